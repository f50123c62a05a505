"""Unit status machine, display metadata and the position dispatch routes a unit from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifechain.errors import Conflict
from lifechain.fleet.core import (
    TRANSITIONS,
    UNIT_STATUS_META,
    UnitState,
    UnitStatus,
    UnitType,
    allowed_next,
    is_available,
    next_status,
)
from lifechain.geo.core import LatLon

S = UnitStatus
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
STATION = LatLon(60.17, 24.94)
FIX = LatLon(60.18, 24.95)

VALID = {
    (S.AVAILABLE_AT_STATION, S.DISPATCHED),
    (S.DISPATCHED, S.EN_ROUTE),
    (S.EN_ROUTE, S.ON_SCENE),
    (S.ON_SCENE, S.TRANSPORTING),
    (S.TRANSPORTING, S.AT_HOSPITAL),
    (S.AT_HOSPITAL, S.AVAILABLE_RETURNING),
    (S.AVAILABLE_RETURNING, S.AVAILABLE_AT_STATION),
    (S.ON_SCENE, S.AVAILABLE_RETURNING),
    (S.DISPATCHED, S.AVAILABLE_AT_STATION),
    (S.DISPATCHED, S.AVAILABLE_RETURNING),
    (S.EN_ROUTE, S.AVAILABLE_AT_STATION),
    (S.EN_ROUTE, S.AVAILABLE_RETURNING),
    (S.AVAILABLE_RETURNING, S.DISPATCHED),
    (S.OUT_OF_SERVICE, S.AVAILABLE_AT_STATION),
} | {(s, S.OUT_OF_SERVICE) for s in S if s is not S.OUT_OF_SERVICE}
ALL_PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("current", "target"), sorted(VALID))
def test_valid_transition_is_accepted(current: UnitStatus, target: UnitStatus) -> None:
    """Every transition of the call cycle (and cancel, no-transport, out of service) is allowed."""
    assert next_status(current, target) is target


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in VALID])
def test_invalid_transition_is_refused_naming_both_states(current: UnitStatus, target: UnitStatus) -> None:
    """Any other move raises Conflict (409) with a message naming both states."""
    with pytest.raises(Conflict) as exc:
        next_status(current, target)
    assert f"from {current} to {target}" in exc.value.message
    assert exc.value.status_code == 409


def test_transition_table_is_exactly_the_documented_one() -> None:
    """The table holds no move beyond the documented ones."""
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == VALID


def test_double_dispatch_is_a_conflict() -> None:
    """A unit already dispatched cannot be dispatched again (two dispatchers racing: one gets 409)."""
    with pytest.raises(Conflict):
        next_status("dispatched", "dispatched")


def test_strings_are_accepted_and_allowed_next_lists_targets() -> None:
    """Stored string values work, and allowed_next tells the UI what buttons to show."""
    assert next_status("available_returning", "dispatched") is S.DISPATCHED
    assert allowed_next("transporting") == {S.AT_HOSPITAL, S.OUT_OF_SERVICE}


def test_every_status_has_bilingual_label_colour_and_availability() -> None:
    """Display metadata is complete, so UI and reports agree."""
    for status in S:
        meta = UNIT_STATUS_META[status]
        assert meta["label"]["en"] and meta["label"]["zh-CN"]
        assert meta["colour"].startswith("#") and len(meta["colour"]) == 7
    assert {s for s in S if is_available(s)} == {S.AVAILABLE_AT_STATION, S.AVAILABLE_RETURNING}


def _unit(status: UnitStatus, fix_age_s: float | None) -> UnitState:
    at = None if fix_age_s is None else NOW - timedelta(seconds=fix_age_s)
    return UnitState(1, "A1", UnitType.ALS, status, STATION, None if at is None else FIX, at)


def test_fresh_fix_is_used() -> None:
    """A fix no older than the staleness limit is where the unit is routed from."""
    assert _unit(S.AVAILABLE_RETURNING, 60).effective_position(NOW, 120) == (FIX, False)
    assert _unit(S.AVAILABLE_RETURNING, 120).effective_position(NOW, 120) == (FIX, False)


def test_stale_fix_falls_back_to_station_and_is_flagged() -> None:
    """An old fix, or none on a moving unit, routes from the station and says so."""
    assert _unit(S.AVAILABLE_RETURNING, 121).effective_position(NOW, 120) == (STATION, True)
    assert _unit(S.AVAILABLE_RETURNING, None).effective_position(NOW, 120) == (STATION, True)


def test_unit_at_station_without_fresh_fix_is_not_flagged() -> None:
    """A unit at its station with no GPS, or whose old fix was the station itself, is simply at the station."""
    assert _unit(S.AVAILABLE_AT_STATION, None).effective_position(NOW, 120) == (STATION, False)
    parked = UnitState(1, "A1", UnitType.ALS, S.AVAILABLE_AT_STATION, STATION, STATION, NOW - timedelta(hours=5))
    assert parked.effective_position(NOW, 120) == (STATION, False)


def test_unit_at_station_whose_old_fix_was_elsewhere_is_flagged() -> None:
    """An old fix away from the station means the station is a guess: routed from it, flagged."""
    assert _unit(S.AVAILABLE_AT_STATION, 3600).effective_position(NOW, 120) == (STATION, True)


def test_unit_at_station_with_fresh_fix_elsewhere_uses_the_fix() -> None:
    """A fresh fix away from the station wins even for a unit marked at its station."""
    assert _unit(S.AVAILABLE_AT_STATION, 5).effective_position(NOW, 120) == (FIX, False)
