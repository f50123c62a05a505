"""Hospital capabilities and diversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lifechain.geo.core import LatLon
from lifechain.hospitals.core import CAPABILITY_LABELS, Capability, HospitalState

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _h(until: datetime | None) -> HospitalState:
    return HospitalState(1, "Meilahti", LatLon(60.19, 24.90), frozenset({Capability.ED, Capability.PCI_24_7}),
                         until, "CT down" if until else None)


def test_diversion_holds_until_its_end_exclusive() -> None:
    """A hospital is diverted before `diverted_until` and accepts again from that instant."""
    end = NOW + timedelta(hours=1)
    assert _h(end).is_diverted(NOW)
    assert not _h(end).is_diverted(end)
    assert not _h(None).is_diverted(NOW)


def test_has_any_capability() -> None:
    """A PCI centre fits the STEMI requirement; it does not fit poisoning."""
    assert _h(None).has_any(frozenset({Capability.PCI_24_7}))
    assert not _h(None).has_any(frozenset({Capability.POISONING_CENTRE}))


def test_capabilities_cover_the_contract_and_have_labels() -> None:
    """The capability names are the agreed stored values, each labelled in both languages."""
    assert {c.value for c in Capability} == {
        "ed", "pci_24_7", "stroke_thrombolysis", "thrombectomy", "poisoning_centre", "trauma_1", "trauma_2",
        "trauma_3", "icu", "paediatric", "obstetrics", "burns"}
    assert all(CAPABILITY_LABELS[c]["en"] and CAPABILITY_LABELS[c]["zh-CN"] for c in Capability)
