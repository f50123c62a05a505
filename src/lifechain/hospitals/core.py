"""Pure hospital rules: what a receiving facility can do, and whether it accepts ambulances right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lifechain.geo.core import LatLon

__all__ = [
    "CAPABILITY_LABELS",
    "Capability",
    "HospitalState",
]


class Capability(StrEnum):
    """A service a hospital offers around the clock; the value is the stable stored name."""

    ED = "ed"
    PCI_24_7 = "pci_24_7"
    STROKE_THROMBOLYSIS = "stroke_thrombolysis"
    THROMBECTOMY = "thrombectomy"
    POISONING_CENTRE = "poisoning_centre"  # hemoperfusion available
    TRAUMA_1 = "trauma_1"
    TRAUMA_2 = "trauma_2"
    TRAUMA_3 = "trauma_3"
    ICU = "icu"
    PAEDIATRIC = "paediatric"
    OBSTETRICS = "obstetrics"
    BURNS = "burns"


CAPABILITY_LABELS: dict[Capability, dict[str, str]] = {
    Capability.ED: {"en": "Emergency department", "zh-CN": "急诊科"},
    Capability.PCI_24_7: {"en": "PCI 24/7 (chest pain centre)", "zh-CN": "24小时PCI（胸痛中心）"},
    Capability.STROKE_THROMBOLYSIS: {"en": "Stroke thrombolysis", "zh-CN": "卒中静脉溶栓"},
    Capability.THROMBECTOMY: {"en": "Thrombectomy", "zh-CN": "卒中取栓"},
    Capability.POISONING_CENTRE: {"en": "Poisoning centre (hemoperfusion)", "zh-CN": "中毒救治中心（血液灌流）"},
    Capability.TRAUMA_1: {"en": "Trauma centre level 1", "zh-CN": "一级创伤中心"},
    Capability.TRAUMA_2: {"en": "Trauma centre level 2", "zh-CN": "二级创伤中心"},
    Capability.TRAUMA_3: {"en": "Trauma centre level 3", "zh-CN": "三级创伤中心"},
    Capability.ICU: {"en": "Intensive care", "zh-CN": "重症监护"},
    Capability.PAEDIATRIC: {"en": "Paediatric emergency", "zh-CN": "儿科急诊"},
    Capability.OBSTETRICS: {"en": "Obstetrics", "zh-CN": "产科"},
    Capability.BURNS: {"en": "Burns unit", "zh-CN": "烧伤科"},
}


@dataclass(frozen=True, slots=True)
class HospitalState:
    """A receiving hospital as dispatch sees it: where it is, what it can do, and any ambulance diversion."""

    id: int
    name: str
    location: LatLon
    capabilities: frozenset[Capability]
    diverted_until: datetime | None = None
    diversion_reason: str | None = None

    def is_diverted(self, now: datetime) -> bool:
        """True while the hospital asks ambulances to go elsewhere (until `diverted_until`, exclusive)."""
        return self.diverted_until is not None and now < self.diverted_until

    def has_any(self, capabilities: frozenset[Capability]) -> bool:
        """True when the hospital offers at least one of `capabilities`."""
        return not self.capabilities.isdisjoint(capabilities)
