"""Dispatch over the API: a call from first ring to closing, concurrency, idempotency, rules and roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from lifechain.settings import Settings

from .world import CITY, T0, World, at_once, build_world, new_call, north


@pytest.fixture
def w(settings: Settings) -> World:
    return build_world(settings)


def _status(w: World, unit: str, status: str, role: str = "crew", **extra: Any) -> Any:
    return w.post(f"/units/{w.units[unit]}/status", role, json={"status": status, **extra})


def test_whole_call_from_ring_to_close(w: World) -> None:
    """Taken, triaged, recommended, dispatched, every unit status to the hospital, closed; every node once."""
    inc = new_call(w, complaint=None)
    iid = inc["id"]
    assert inc["status"] == "received" and inc["priority"] is None
    tri = w.post(f"/incidents/{iid}/triage", json={"complaint": "chest_pain",
                                                   "answers": {"pain_now": "yes", "sweating_or_breathless": "yes"}})
    assert tri.status_code == 200, tri.text
    assert tri.json()["determinant"]["priority"] == 1
    assert tri.json()["incident"]["pathways"] == ["chest_pain_stemi"]
    assert tri.json()["incident"]["protocol_version"]
    rec = w.get(f"/incidents/{iid}/recommendation").json()
    assert rec["best_unit_id"] == w.units["A1"]  # nearest ALS; B1 is as near but BLS for a priority-1 call
    b1 = next(c for c in rec["units"] if c["call_sign"] == "B1")
    assert not b1["eligible"] and b1["reason"] == "wrong_type"
    assert rec["hospital"]["hospital_id"] == w.hospitals["Heart Centre"]  # STEMI -> PCI within the allowance
    w.clock.advance(40)
    assert w.post(f"/incidents/{iid}/dispatch", json={"unit_id": w.units["A1"]}).json()["status"] == "dispatched"
    steps = [("en_route", 30, {}), ("on_scene", 300, {}), ("transporting", 900,
             {"hospital_id": w.hospitals["Heart Centre"]}), ("at_hospital", 600, {}), ("available_returning", 1200, {})]
    for status, dt, extra in steps:
        w.clock.advance(dt)
        res = _status(w, "A1", status, **extra)
        assert res.status_code == 200, res.text
        if status == "on_scene":
            at_patient = w.post(f"/incidents/{iid}/timeline", "crew", json={"kind": "at_patient", "unit_id":
                                                                             w.units["A1"], "source": "crew_app"})
            assert at_patient.status_code == 201
    assert w.get(f"/incidents/{iid}").json()["status"] == "at_hospital"
    closed = w.post(f"/incidents/{iid}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    unit = w.get(f"/units/{w.units['A1']}").json()
    assert unit["status"] == "available_returning" and unit["incident_id"] is None
    kinds = [e["kind"] for e in w.get(f"/incidents/{iid}/timeline").json()["effective"]]
    assert kinds == ["psap_call", "determinant_set", "unit_notified", "unit_en_route", "unit_on_scene", "at_patient",
                     "left_scene", "at_destination", "unit_back_in_service", "incident_closed"]
    tl = w.get(f"/incidents/{iid}/timeline").json()["effective"]
    assert {e["actor"] for e in tl if e["kind"].startswith("unit_") and e["kind"] != "unit_notified"} == {
        "user:crew"}
    assert next(e for e in tl if e["kind"] == "unit_notified")["actor"] == "user:disp"
    assert w.get(f"/incidents/{iid}").json()["destination_hospital_id"] == w.hospitals["Heart Centre"]


def test_same_idempotency_key_gives_same_incident(w: World) -> None:
    """A retried create with the same key returns the same incident (200), not a second one."""
    first = new_call(w, key="call-123")
    again = w.client.post("/api/v1/incidents", headers={**w.h["disp"], "Idempotency-Key": "call-123"},
                          json={"city": CITY, "location": north(0)})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert len(w.get("/incidents").json()) == 1


def test_concurrent_retries_with_one_key_create_one_incident(w: World) -> None:
    """Eight simultaneous retries with one key all get the same incident id."""

    def create() -> Any:
        return w.client.post("/api/v1/incidents", headers={**w.h["disp"], "Idempotency-Key": "race"},
                             json={"city": CITY, "location": north(0), "complaint": "falls",
                                   "answers": {"fall_height_m": 1}})

    responses = at_once(*[create] * 8)
    for res in responses:
        assert res.status_code in (200, 201), res.text
    ids = [res.json()["id"] for res in responses]
    assert len(ids) == 8 and len(set(ids)) == 1
    assert len(w.get("/incidents").json()) == 1


def test_two_dispatchers_same_unit_exactly_one_wins(w: World) -> None:
    """Two dispatchers send A1 to two calls at the same moment: one 200, one 409, and A1 is on one call."""
    a, b = new_call(w)["id"], new_call(w, km=0.5)["id"]

    def send(who: str, iid: object) -> int:
        res = w.client.post(f"/api/v1/incidents/{iid}/dispatch", headers=w.h[who], json={"unit_id": w.units["A1"]})
        return res.status_code

    codes = at_once(lambda: send("disp", a), lambda: send("disp2", b))
    results = dict(zip(("disp", "disp2"), codes, strict=True))
    assert sorted(results.values()) == [200, 409]
    unit = w.get(f"/units/{w.units['A1']}").json()
    winner = a if results["disp"] == 200 else b
    assert unit["incident_id"] == winner and unit["status"] == "dispatched"
    loser = b if winner == a else a
    assert w.get(f"/incidents/{loser}").json()["assignments"] == []


def test_invalid_status_move_is_409_with_allowed_moves(w: World) -> None:
    """A unit at its station cannot go on scene; the message names both states and the allowed ones."""
    res = _status(w, "A1", "on_scene")
    assert res.status_code == 409
    assert "available_at_station" in res.json()["detail"] and "on_scene" in res.json()["detail"]
    assert _status(w, "A1", "dispatched", role="disp").status_code == 409


def test_crew_reports_only_for_its_own_unit(w: World) -> None:
    """A1's crew may not change A2's status or position (403); the dispatcher may."""
    assert w.post(f"/units/{w.units['A2']}/status", "crew", json={"status": "out_of_service"}).status_code == 403
    assert w.post(f"/units/{w.units['A2']}/position", "crew", json=north(3)).status_code == 403
    assert w.post(f"/units/{w.units['A2']}/status", "disp", json={"status": "out_of_service"}).status_code == 200


def test_arrest_is_recognised_and_compressions_timed(w: World) -> None:
    """An unconscious, not-breathing caller report marks a suspected arrest, timed on the timeline with T-CPR."""
    inc = new_call(w, complaint="cardiac_arrest", answers={"awake": "no", "breathing": "agonal", "witnessed": "no"})
    assert inc["priority"] == 1 and "suspected_cardiac_arrest" in inc["pathways"]
    assert inc["determinant"]["tcpr_prompts"]
    w.clock.advance(75)
    res = w.post(f"/incidents/{inc['id']}/timeline", json={"kind": "first_instructed_compression"})
    assert res.status_code == 201
    tl = {e["kind"]: e for e in w.get(f"/incidents/{inc['id']}/timeline").json()["effective"]}
    assert tl["arrest_recognised"]["at"] == tl["psap_call"]["at"]
    assert tl["first_instructed_compression"]["at"].startswith((T0 + timedelta(seconds=75)).isoformat()[:19])


def test_queue_orders_by_priority_then_age_and_shows_earliest_free(w: World) -> None:
    """Waiting calls list priority 1 before older priority 3; with no unit free, the earliest-free unit is shown."""
    low = new_call(w, complaint="falls", answers={"fall_height_m": 1})
    w.clock.advance(60)
    high = new_call(w)
    untriaged = new_call(w, complaint=None)
    q = w.get("/incidents/queue").json()
    assert [i["id"] for i in q["waiting"]] == [high["id"], low["id"]]
    assert [i["id"] for i in q["untriaged"]] == [untriaged["id"]]
    for unit, iid in (("A1", high["id"]), ("A2", low["id"])):
        assert w.post(f"/incidents/{iid}/dispatch", json={"unit_id": w.units[unit]}).status_code == 200
    third = new_call(w)
    rec = w.get(f"/incidents/{third['id']}/recommendation").json()
    assert rec["best_unit_id"] is None
    assert [f["call_sign"] for f in rec["earliest_free"]] == ["A1", "A2"]
    assert [i["id"] for i in w.get("/incidents/queue").json()["waiting"]] == [third["id"]]


def test_redispatch_diverts_a_unit_from_a_lower_priority_call(w: World) -> None:
    """A2 en route to a priority-3 call is diverted to a new priority-1 call; the old call goes back to the queue."""
    _status(w, "A1", "out_of_service", role="disp")
    low = new_call(w, complaint="falls", answers={"fall_height_m": 1})
    assert w.post(f"/incidents/{low['id']}/dispatch", json={"unit_id": w.units["A2"]}).status_code == 200
    assert _status(w, "A2", "en_route", role="crew2").status_code == 200
    high = new_call(w)
    rec = w.get(f"/incidents/{high['id']}/recommendation").json()
    assert rec["best_unit_id"] is None and [c["call_sign"] for c in rec["redispatch"]] == ["A2"]
    plain = w.post(f"/incidents/{high['id']}/dispatch", json={"unit_id": w.units["A2"]})
    assert plain.status_code == 409
    diverted = w.post(f"/incidents/{high['id']}/dispatch", json={"unit_id": w.units["A2"], "divert": True})
    assert diverted.status_code == 200, diverted.text
    assert w.get(f"/incidents/{low['id']}").json()["status"] == "waiting"
    low_kinds = [e["kind"] for e in w.get(f"/incidents/{low['id']}/timeline").json()["effective"]]
    assert low_kinds[-1] == "unit_reassigned"
    back = w.post(f"/incidents/{low['id']}/dispatch", json={"unit_id": w.units["A2"], "divert": True})
    assert back.status_code == 409  # a priority-1 call's unit is never diverted to a priority-3 call


def test_priority_one_call_cannot_divert_a_bls_unit(w: World) -> None:
    """B1 (BLS) en route to a priority-3 call may not be diverted to a priority-1 call, which needs ALS (409)."""
    low = new_call(w, complaint="falls", answers={"fall_height_m": 1})
    assert w.post(f"/incidents/{low['id']}/dispatch", json={"unit_id": w.units["B1"]}).status_code == 200
    assert _status(w, "B1", "en_route", role="disp").status_code == 200
    high = new_call(w)
    res = w.post(f"/incidents/{high['id']}/dispatch", json={"unit_id": w.units["B1"], "divert": True})
    assert res.status_code == 409 and "needs ALS" in res.json()["detail"]
    assert w.get(f"/units/{w.units['B1']}").json()["incident_id"] == low["id"]
    assert w.get(f"/incidents/{low['id']}").json()["status"] == "dispatched"


def test_cancel_stands_down_units_and_reassign_swaps_them(w: World) -> None:
    """Reassign swaps A1 for A2; cancelling stands A2 down with a reason; a cancelled call cannot be dispatched."""
    iid = new_call(w)["id"]
    w.post(f"/incidents/{iid}/dispatch", json={"unit_id": w.units["A1"]})
    swapped = w.post(f"/incidents/{iid}/reassign", json={"from_unit_id": w.units["A1"], "to_unit_id": w.units["A2"]})
    assert swapped.status_code == 200
    assert [a["unit_id"] for a in swapped.json()["assignments"] if a["ended_at"] is None] == [w.units["A2"]]
    assert w.get(f"/units/{w.units['A1']}").json()["status"] == "available_returning"
    assert w.post(f"/incidents/{iid}/close").status_code == 409  # A2 still on it
    cancelled = w.post(f"/incidents/{iid}/cancel", json={"reason": "caller says no longer needed"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert w.get(f"/units/{w.units['A2']}").json()["incident_id"] is None
    kinds = [e["kind"] for e in w.get(f"/incidents/{iid}/timeline").json()["effective"]]
    assert kinds.count("unit_cancelled") == 2 and kinds[-1] == "incident_cancelled"
    assert w.post(f"/incidents/{iid}/dispatch", json={"unit_id": w.units["A1"]}).status_code == 409


def test_gps_fix_moves_the_unit_and_stale_fix_falls_back_to_station(w: World) -> None:
    """A fresh fix near the scene makes A2 fastest; once stale, its station is used and flagged."""
    assert w.post(f"/units/{w.units['A2']}/position", "crew2", json=north(0.5)).status_code == 200
    iid = new_call(w)["id"]
    rec = w.get(f"/incidents/{iid}/recommendation").json()
    assert rec["best_unit_id"] == w.units["A2"]
    w.clock.advance(3600)
    rec = w.get(f"/incidents/{iid}/recommendation").json()
    a2 = next(c for c in rec["units"] if c["unit_id"] == w.units["A2"])
    assert rec["best_unit_id"] == w.units["A1"] and a2["reason"] == "stale_gps_used_station"
    future = w.post(f"/units/{w.units['A2']}/position", "crew2",
                    json={**north(1), "at": (T0 + timedelta(days=1)).isoformat()})
    assert future.status_code == 422


def test_hospital_diversion_by_own_staff_changes_the_destination(w: World) -> None:
    """Heart Centre staff divert it; the STEMI goes to the other PCI centre; other staff may not; lifting works."""
    heart, ed = w.hospitals["Heart Centre"], w.hospitals["City ED"]
    south = w.post("/hospitals", "admin", json={"city": CITY, "name": "South PCI", "location": north(-8),
                                                "capabilities": ["ed", "pci_24_7"]}).json()["id"]
    until = (T0 + timedelta(hours=2)).isoformat()
    assert w.client.put(f"/api/v1/hospitals/{ed}/diversion", headers=w.h["nurse"],
                        json={"until": until, "reason": "CT down"}).status_code == 403
    res = w.client.put(f"/api/v1/hospitals/{heart}/diversion", headers=w.h["nurse"],
                       json={"until": until, "reason": "cath lab full"})
    assert res.status_code == 200 and res.json()["diversion_reason"] == "cath lab full"
    iid = new_call(w)["id"]
    rec = w.get(f"/incidents/{iid}/recommendation").json()
    assert rec["hospital"]["hospital_id"] == south
    assert next(c for c in rec["hospital"]["candidates"] if c["hospital_id"] == heart)["diverted"]
    assert w.client.delete(f"/api/v1/hospitals/{heart}/diversion", headers=w.h["nurse"]).status_code == 200
    assert w.get(f"/incidents/{iid}/recommendation").json()["hospital"]["hospital_id"] == heart
    dest = w.post(f"/incidents/{iid}/destination", json={"hospital_id": heart})
    assert dest.status_code == 200
    incoming = w.get(f"/hospitals/{heart}/incoming", "nurse").json()
    assert [i["id"] for i in incoming] == [iid]
    kinds = [e["kind"] for e in w.get(f"/incidents/{iid}/timeline").json()["effective"]]
    assert kinds[-2:] == ["destination_chosen", "hospital_prenotified"]


def test_a_diversion_given_in_local_time_ends_at_that_instant(w: World) -> None:
    """A nurse in Beijing sends her local time. SQLite keeps no offset: 18:00+08:00 was stored as 18:00 and read
    back as 18:00 UTC, so the hospital stayed diverted eight hours too long (PostgreSQL was right). Every stored time
    is now kept in UTC on both, and read back aware."""
    from datetime import timezone

    heart = w.hospitals["Heart Centre"]
    beijing = timezone(timedelta(hours=8))
    until = (T0 + timedelta(hours=2)).astimezone(beijing)
    res = w.client.put(f"/api/v1/hospitals/{heart}/diversion", headers=w.h["nurse"],
                       json={"until": until.isoformat(), "reason": "cath lab full"})
    assert res.status_code == 200, res.text
    listed = {h["id"]: h for h in w.get(f"/hospitals?city={CITY}").json()}
    assert datetime.fromisoformat(listed[heart]["diverted_until"]) == until
    assert listed[heart]["diverted_until"].endswith("Z") or listed[heart]["diverted_until"].endswith("+00:00")
    w.clock.advance(2 * 3600 + 1)  # past its end: the STEMI centre takes patients again
    iid = new_call(w)["id"]
    rec = w.get(f"/incidents/{iid}/recommendation").json()
    assert not next(c for c in rec["hospital"]["candidates"] if c["hospital_id"] == heart)["diverted"]


def test_validation_errors_name_the_field(w: World) -> None:
    """Bad coordinates, an unknown complaint and an impossible answer are 422 naming what was wrong."""
    bad = w.post("/incidents", json={"city": CITY, "location": {"lat": 95, "lon": 24}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.location.lat"
    unknown = w.post("/incidents", json={"city": CITY, "location": north(0), "complaint": "hiccups"})
    assert unknown.status_code == 422 and unknown.json()["context"]["field"] == "complaint"
    iid = new_call(w)["id"]
    wrong = w.post(f"/incidents/{iid}/triage", json={"complaint": "chest_pain", "answers": {"pain_now": "maybe"}})
    assert wrong.status_code == 422 and wrong.json()["context"]["field"] == "pain_now"
    untriaged = new_call(w, complaint=None)["id"]
    assert w.get(f"/incidents/{untriaged}/recommendation").status_code == 409
    assert w.get("/incidents/9999").status_code == 404


# Every route, the roles that must be refused, and a body that would otherwise be valid enough to pass auth.
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("post", "/incidents", "crew", {"city": CITY, "location": north(0)}),
    ("get", "/incidents", "vol", None),
    ("get", "/incidents/queue", "analyst", None),
    ("get", "/incidents/1", "vol", None),
    ("post", "/incidents/1/triage", "crew", {"complaint": "falls", "answers": {}}),
    ("post", "/incidents/1/patients", "analyst", {}),
    ("get", "/incidents/1/recommendation", "crew", None),
    ("post", "/incidents/1/dispatch", "crew", {"unit_id": 1}),
    ("post", "/incidents/1/reassign", "nurse", {"from_unit_id": 1, "to_unit_id": 2}),
    ("post", "/incidents/1/units/1/stand-down", "crew", {"reason": "not needed"}),
    ("post", "/incidents/1/cancel", "crew", {"reason": "not needed"}),
    ("post", "/incidents/1/close", "analyst", None),
    ("post", "/incidents/1/destination", "nurse", {"hospital_id": 1}),
    ("get", "/protocol", "crew", None),
    ("get", "/stations", "vol", None),
    ("post", "/stations", "disp", {"city": CITY, "name": "X", "location": north(0)}),
    ("get", "/units", "vol", None),
    ("get", "/units/1", "nurse", None),
    ("post", "/units", "disp", {"call_sign": "Z9", "type": "ALS", "station_id": 1}),
    ("post", "/units/1/status", "analyst", {"status": "out_of_service"}),
    ("post", "/units/1/position", "nurse", north(0)),
    ("get", "/hospitals", "vol", None),
    ("post", "/hospitals", "disp", {"city": CITY, "name": "X", "location": north(0), "capabilities": ["ed"]}),
    ("put", "/hospitals/1/diversion", "crew", {"until": "2026-03-01T12:00:00+00:00", "reason": "full"}),
    ("delete", "/hospitals/1/diversion", "analyst", None),
    ("get", "/hospitals/1/incoming", "crew", None),
]


def test_every_route_refuses_a_wrong_role_and_anonymous(w: World) -> None:
    """Each route answers 403 to a role it does not allow and 401 to a caller without credentials."""
    for method, path, wrong_role, body in ROUTES:
        kwargs: dict[str, Any] = {} if body is None or method == "delete" else {"json": body}
        call = getattr(w.client, method)
        assert call(f"/api/v1{path}", headers=w.h[wrong_role], **kwargs).status_code == 403, (method, path)
        assert call(f"/api/v1{path}", **kwargs).status_code == 401, (method, path)


def test_crew_and_hospital_staff_read_only_their_incidents(w: World) -> None:
    """A1's crew reads A1's call but not A2's (403, not listed); Heart Centre staff read only calls bound for it."""
    mine, other = new_call(w)["id"], new_call(w, km=0.5)["id"]
    w.post(f"/incidents/{mine}/dispatch", json={"unit_id": w.units["A1"]})
    w.post(f"/incidents/{other}/dispatch", json={"unit_id": w.units["A2"]})
    assert w.get(f"/incidents/{mine}", "crew").status_code == 200
    denied = w.get(f"/incidents/{other}", "crew")
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert w.post(f"/incidents/{other}/patients", "crew", json={}).status_code == 403
    assert w.post(f"/incidents/{other}/destination", "crew",
                  json={"hospital_id": w.hospitals["City ED"]}).status_code == 403
    assert w.get("/incidents/999999", "crew").status_code == 404
    assert [i["id"] for i in w.get("/incidents", "crew").json()] == [mine]
    assert [i["id"] for i in w.get("/incidents", "crew2").json()] == [other]
    assert w.get(f"/incidents/{mine}", "nurse").status_code == 403 and w.get("/incidents", "nurse").json() == []
    res = w.post(f"/incidents/{mine}/destination", "crew", json={"hospital_id": w.hospitals["Heart Centre"]})
    assert res.status_code == 200, res.text
    assert w.get(f"/incidents/{mine}", "nurse").status_code == 200
    assert [i["id"] for i in w.get("/incidents", "nurse").json()] == [mine]
    assert {i["id"] for i in w.get("/incidents", "analyst").json()} == {mine, other}


def test_crew_reach_only_their_incidents_timeline_and_attachments(w: World) -> None:
    """A2's crew can neither read nor write A1's timeline or attachments (403); A1's crew can."""
    mine = new_call(w)["id"]
    w.post(f"/incidents/{mine}/dispatch", json={"unit_id": w.units["A1"]})
    node = {"kind": "at_patient", "at": T0.isoformat(), "source": "crew_app"}
    assert w.get(f"/incidents/{mine}/timeline", "crew").status_code == 200
    assert w.post(f"/incidents/{mine}/timeline", "crew", json=node).status_code == 201
    assert w.get(f"/incidents/{mine}/timeline", "crew2").status_code == 403
    assert w.post(f"/incidents/{mine}/timeline", "crew2", json=node).status_code == 403
    assert w.get(f"/incidents/{mine}/attachments", "crew2").status_code == 403
    upload = w.post(f"/incidents/{mine}/attachments", "crew2", files={"file": ("ecg.pdf", b"%PDF-1.7\n%%EOF\n")})
    assert upload.status_code == 403
    assert w.get(f"/incidents/{mine}/attachments", "crew").status_code == 200
    assert w.get(f"/incidents/{mine}/timeline", "nurse").status_code == 403
    assert w.get(f"/incidents/{mine}/timeline", "analyst").status_code == 200
