"""Pure fleet rules: unit types, the unit status machine and the state of a unit as dispatch sees it.

The status machine follows the life of an ambulance on a call (NEMSIS eTimes order): available at station ->
dispatched -> en route -> on scene -> transporting -> at hospital -> available (returning) -> available at station.
A unit may go out of service from any state and comes back at its station.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, TypedDict

from lifechain.errors import Conflict
from lifechain.geo.core import LatLon

__all__ = [
    "TRANSITIONS",
    "UNIT_STATUS_META",
    "StatusMeta",
    "UnitState",
    "UnitStatus",
    "UnitType",
    "allowed_next",
    "is_available",
    "next_status",
]


class UnitType(StrEnum):
    """Capability level of an ambulance: advanced or basic life support."""

    ALS = "ALS"
    BLS = "BLS"


class UnitStatus(StrEnum):
    """Where a unit is in its call cycle. The value is the stable name stored and exported."""

    AVAILABLE_AT_STATION = "available_at_station"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    AVAILABLE_RETURNING = "available_returning"
    OUT_OF_SERVICE = "out_of_service"


class StatusMeta(TypedDict):
    """Display metadata of a status: label per language, colour, and whether the unit can take a new call."""

    label: dict[str, str]
    colour: str
    available: bool


S = UnitStatus
UNIT_STATUS_META: dict[UnitStatus, StatusMeta] = {
    S.AVAILABLE_AT_STATION: {"label": {"en": "Available at station", "zh-CN": "站内待命"},
                             "colour": "#2e7d32", "available": True},
    S.DISPATCHED: {"label": {"en": "Dispatched", "zh-CN": "已派车"}, "colour": "#f9a825", "available": False},
    S.EN_ROUTE: {"label": {"en": "En route", "zh-CN": "出车途中"}, "colour": "#ef6c00", "available": False},
    S.ON_SCENE: {"label": {"en": "On scene", "zh-CN": "到达现场"}, "colour": "#c62828", "available": False},
    S.TRANSPORTING: {"label": {"en": "Transporting", "zh-CN": "转运途中"}, "colour": "#6a1b9a", "available": False},
    S.AT_HOSPITAL: {"label": {"en": "At hospital", "zh-CN": "到达医院"}, "colour": "#1565c0", "available": False},
    S.AVAILABLE_RETURNING: {"label": {"en": "Available, returning", "zh-CN": "返站途中可派"},
                            "colour": "#66bb6a", "available": True},
    S.OUT_OF_SERVICE: {"label": {"en": "Out of service", "zh-CN": "暂停服务"}, "colour": "#616161",
                       "available": False},
}

# Allowed moves (besides "to out of service", allowed from every other state). A unit already dispatched cannot be
# dispatched again (so two dispatchers racing on one unit get a conflict); diverting it is cancel, then dispatch.
TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    S.AVAILABLE_AT_STATION: frozenset({S.DISPATCHED}),
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.AVAILABLE_AT_STATION, S.AVAILABLE_RETURNING}),
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.AVAILABLE_AT_STATION, S.AVAILABLE_RETURNING}),
    S.ON_SCENE: frozenset({S.TRANSPORTING, S.AVAILABLE_RETURNING}),
    S.TRANSPORTING: frozenset({S.AT_HOSPITAL}),
    S.AT_HOSPITAL: frozenset({S.AVAILABLE_RETURNING}),
    S.AVAILABLE_RETURNING: frozenset({S.AVAILABLE_AT_STATION, S.DISPATCHED}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE_AT_STATION}),
}
for _status in UnitStatus:
    if _status is not S.OUT_OF_SERVICE:
        TRANSITIONS[_status] = TRANSITIONS[_status] | {S.OUT_OF_SERVICE}


def allowed_next(current: UnitStatus | str) -> frozenset[UnitStatus]:
    """The statuses a unit in `current` may move to."""
    return TRANSITIONS[UnitStatus(current)]


def next_status(current: UnitStatus | str, target: UnitStatus | str) -> UnitStatus:
    """Return `target` if a unit in `current` may move there; raises `Conflict` naming both states otherwise."""
    cur = current if isinstance(current, UnitStatus) else UnitStatus(current)
    tgt = target if isinstance(target, UnitStatus) else UnitStatus(target)
    if tgt not in TRANSITIONS[cur]:
        allowed = ", ".join(sorted(TRANSITIONS[cur]))
        raise Conflict(f"a unit cannot go from {cur} to {tgt} (allowed from {cur}: {allowed})",
                       current=str(cur), target=str(tgt))
    return tgt


_AVAILABLE = frozenset(s for s, meta in UNIT_STATUS_META.items() if meta["available"])


def is_available(status: UnitStatus | str) -> bool:
    """True when a unit in `status` can take a new call."""
    return (status if isinstance(status, UnitStatus) else UnitStatus(status)) in _AVAILABLE


class UnitState(NamedTuple):
    """An ambulance as dispatch sees it at one instant: type, status, home station, last GPS fix and current call.

    A named tuple (immutable, `_replace` for a changed copy) rather than a frozen dataclass: dispatch reads every
    unit on every recommendation and the simulation makes one per status change, and a frozen dataclass costs
    about five times as much to build on Python 3.11."""

    id: int
    call_sign: str
    type: UnitType
    status: UnitStatus
    station: LatLon
    position: LatLon | None
    position_at: datetime | None
    incident_id: int | None = None
    incident_priority: int | None = None

    def gps_is_fresh(self, now: datetime, stale_after_s: float) -> bool:
        """True when the unit has a GPS fix no older than `stale_after_s` seconds at `now`."""
        if self.position is None or self.position_at is None:
            return False
        return (now - self.position_at).total_seconds() <= stale_after_s

    def effective_position(self, now: datetime, stale_after_s: float) -> tuple[LatLon, bool]:
        """Where to route the unit from, and whether its station stood in for a stale or missing fix.

        Without a fresh fix the station stands in. That is flagged unless the unit is at its station by status and
        its last fix (if any) was the station itself, as for a unit that has not moved since it was created.
        """
        if self.gps_is_fresh(now, stale_after_s):
            assert self.position is not None
            return self.position, False
        moved = self.position is not None and self.position != self.station
        return self.station, moved or self.status is not UnitStatus.AVAILABLE_AT_STATION
