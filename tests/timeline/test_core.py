"""The timeline's pure rules: corrections supersede, intervals are later minus earlier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifechain.errors import Invalid
from lifechain.timeline.core import EventKind, TimelineEvent, effective, first, interval_s

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_correction_replaces_the_superseded_event() -> None:
    """A correction moves the on-scene time; the original no longer counts."""
    events = [
        TimelineEvent(EventKind.PSAP_CALL, T0, incident_id=1, id=1),
        TimelineEvent(EventKind.UNIT_ON_SCENE, T0 + timedelta(minutes=9), incident_id=1, unit_id=3, id=2),
        TimelineEvent(EventKind.CORRECTION, T0 + timedelta(minutes=8), incident_id=1, id=3, supersedes=2,
                      reason="crew pressed late", payload={"kind": "unit_on_scene"}),
    ]
    live = effective(events)
    assert [e.kind for e in live] == [EventKind.PSAP_CALL, EventKind.UNIT_ON_SCENE]
    assert first(events, EventKind.UNIT_ON_SCENE, unit_id=3) == T0 + timedelta(minutes=8)
    assert interval_s(first(events, EventKind.PSAP_CALL), first(events, EventKind.UNIT_ON_SCENE)) == 480.0


def test_correction_needs_a_reason_and_naive_times_are_refused() -> None:
    """Nothing is edited silently: a correction without a reason, or a naive time, is refused."""
    with pytest.raises(Invalid):
        TimelineEvent(EventKind.CORRECTION, T0, supersedes=1)
    with pytest.raises(Invalid):
        TimelineEvent(EventKind.PSAP_CALL, datetime(2026, 1, 1))
