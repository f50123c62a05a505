"""Creating a call writes exactly its rows: the incident, its patients, its time nodes and its live-stream messages,
once each, whichever way it is written: the session path, or directly when no subscriber wants its events (SQLite:
plain statements inline; PostgreSQL: one statement, awaited on the server's event loop when the app was started,
"loop", or in the thread pool when a test client without start-up runs each request on a loop of its own,
"thread")."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from lifechain import events
from lifechain.dispatch import flows
from lifechain.dispatch.tables import Incident, Patient
from lifechain.settings import Settings
from lifechain.timeline import repo as timeline_repo
from lifechain.timeline.tables import TimelineEventRow

from .world import CITY, World, at_once, build_world, north

CHEST = {"complaint": "chest_pain", "answers": {"pain_now": "yes", "sweating_or_breathless": "yes"}}
ARREST = {"complaint": "cardiac_arrest", "answers": {"awake": "no", "breathing": "agonal", "witnessed": "no"}}


@pytest.fixture(params=["loop", "thread", "session"])
def w(settings: Settings, request: pytest.FixtureRequest) -> Iterator[World]:
    """A world whose calls are written directly (started app: "loop"; not started: "thread"), or through the session
    ("session": a subscriber to every event, without a `wants` check, wants them all)."""
    world = build_world(settings)
    world.mode = request.param  # type: ignore[attr-defined]
    if request.param == "thread":
        yield world
        return
    if request.param == "session":
        _app(world).state.bus.subscribe("*", _everything)
        yield world
        return
    with world.client:  # runs the app's start-up: requests share its event loop
        yield world


def _everything(_session: object, _event: events.DomainEvent) -> None:
    return None


def _direct_way(w: World) -> str | None:
    """How this world's direct writes run: "sqlite" (inline), or on PostgreSQL "loop" or "thread"; None when its
    calls go through the session."""
    if w.mode == "session":  # type: ignore[attr-defined]
        return None
    if _app(w).state.call_pool is None:
        return "sqlite"
    return "loop" if _app(w).state.call_pool._loop is not None else "thread"


def _app(w: World) -> FastAPI:
    app: FastAPI = w.client.app  # type: ignore[assignment]
    return app


def _stream_head(w: World) -> int:
    return timeline_repo.stream_head(factory=_app(w).state.sessionmaker)


def _messages_after(w: World, after: int) -> list[tuple[str, dict[str, Any]]]:
    return [(m.kind, m.payload) for m in timeline_repo.read_stream(factory=_app(w).state.sessionmaker,
                                                                   after_id=after)]


def _post(w: World, key: str | None = None, **body: Any) -> Any:
    headers = {**w.h["disp"], **({"Idempotency-Key": key} if key else {})}
    return w.client.post("/api/v1/incidents", headers=headers,
                         json={"city": CITY, "location": north(0), "address": "Mannerheimintie 1",
                               "caller_number": "+358 40 123 4567", **body})


def test_a_new_call_writes_its_rows_once_with_their_stream_messages(w: World) -> None:
    """The incident, two patients, the PSAP call and determinant nodes (in that order, by the dispatcher), and three
    stream messages carrying the stored ids, in the order a resuming client reads them."""
    head = _stream_head(w)
    res = _post(w, key="one-call", patients=2, **CHEST)
    assert res.status_code == 201, res.text
    out = res.json()
    iid = out["id"]
    assert out["status"] == "waiting" and out["priority"] == 1 and out["determinant"]["code"]
    with _app(w).state.sessionmaker() as s:
        incident = s.get(Incident, iid)
        assert incident is not None and s.scalar(select(func.count()).select_from(Incident)) == 1
        assert (incident.idempotency_key, incident.created_by, incident.version) == ("one-call", "user:disp", 1)
        assert incident.determinant == out["determinant"] and incident.answers == CHEST["answers"]
        assert incident.caller_number == "+358 40 123 4567" and incident.pathways == out["pathways"]
        labels = s.scalars(select(Patient.label).where(Patient.incident_id == iid).order_by(Patient.id)).all()
        assert labels == ["P1", "P2"]
        nodes = s.scalars(select(TimelineEventRow).order_by(TimelineEventRow.id)).all()
    assert [(n.kind, n.incident_id, n.actor, n.source) for n in nodes] == [
        ("psap_call", iid, "user:disp", "console"), ("determinant_set", iid, "user:disp", "console")]
    assert nodes[0].payload == {"address": "Mannerheimintie 1"}
    assert nodes[1].payload == {"code": out["determinant"]["code"], "priority": 1, "pathways": out["pathways"],
                                "complaint": "chest_pain", "protocol_version": out["protocol_version"],
                                "answers": CHEST["answers"]}
    got = _messages_after(w, head)
    assert [kind for kind, _ in got] == ["timeline.psap_call", "timeline.determinant_set", "incident.updated"]
    from lifechain.timeline.flows import stream_payload

    for (_, payload), node in zip(got, nodes, strict=False):
        assert payload == stream_payload(timeline_repo.to_event(node))
    assert got[2][1] == {"id": iid, "city": CITY, "lat": out["location"]["lat"], "lon": out["location"]["lon"],
                         "address": "Mannerheimintie 1", "status": "waiting", "priority": 1,
                         "pathways": out["pathways"], "complaint": "chest_pain", "code": out["determinant"]["code"],
                         "received_at": got[0][1]["at"], "destination_hospital_id": None, "version": 1}
    # Stream messages never carry the caller's number.
    assert all("123 4567" not in str(payload) for _, payload in got)


def test_a_call_nobody_subscribes_to_skips_the_session(w: World,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A chest pain call is written directly (on PostgreSQL in one statement), never through the session path; a
    suspected arrest (volunteers subscribe to it) and a retried key take the session path."""
    session_path: list[str] = []
    direct: list[str] = []
    real, real_thread, real_loop = flows.create_incident, flows.write_direct_call, flows.write_direct_call_async

    def counting(**kw: Any) -> Any:
        session_path.append(kw["call"].complaint)
        return real(**kw)

    def in_thread(**kw: Any) -> Any:
        direct.append("sqlite" if kw.get("dialect") == "sqlite" else "thread")
        return real_thread(**kw)

    async def on_loop(**kw: Any) -> Any:
        direct.append("loop")
        return await real_loop(**kw)

    monkeypatch.setattr(flows, "create_incident", counting)
    monkeypatch.setattr(flows, "write_direct_call", in_thread)
    monkeypatch.setattr(flows, "write_direct_call_async", on_loop)
    way = _direct_way(w)
    first = _post(w, key="k1", **CHEST)
    assert first.status_code == 201
    assert (session_path, direct) == (([], [way]) if way else (["chest_pain"], []))
    arrest = _post(w, **ARREST)
    assert arrest.status_code == 201 and "suspected_cardiac_arrest" in arrest.json()["pathways"]
    assert session_path[-1] == "cardiac_arrest"
    again = _post(w, key="k1", **CHEST)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert session_path[-1] == "chest_pain"
    with _app(w).state.sessionmaker() as s:
        kinds = s.scalars(select(TimelineEventRow.kind).where(TimelineEventRow.incident_id == arrest.json()["id"])
                          .order_by(TimelineEventRow.id)).all()
    assert kinds == ["psap_call", "determinant_set", "arrest_recognised"]


@pytest.mark.parametrize("w", ["loop", "thread"], indirect=True)
def test_the_direct_write_fills_every_column_the_session_path_fills(w: World) -> None:
    """The same call written directly and through the session gives equal rows in every column of the incident,
    patient, time node and stream tables, ids aside (read from the tables' own column lists, so a column added to
    the ORM path but not to the direct statements fails here)."""
    from lifechain.timeline.tables import StreamEventRow

    heads = [_stream_head(w)]
    _post(w, key="direct", patients=2, **CHEST)
    heads.append(_stream_head(w))
    _app(w).state.bus.subscribe("*", _everything)
    _post(w, key="session", patients=2, **CHEST)
    heads.append(_stream_head(w))
    ids = {"id", "incident_id", "seq", "idempotency_key"}

    def strip(row: Any) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in ids}
        if isinstance(out.get("payload"), dict):
            out["payload"] = strip(out["payload"])
        return out

    stream = StreamEventRow.__table__
    with _app(w).state.sessionmaker() as s:
        incidents = s.execute(select(Incident.__table__).order_by(Incident.id)).mappings().all()
        assert [i["idempotency_key"] for i in incidents] == ["direct", "session"]
        per_call = []
        for incident, after, upto in zip(incidents, heads, heads[1:], strict=False):
            rows: dict[str, Any] = {"incident": strip(incident)}
            for table in (Patient.__table__, TimelineEventRow.__table__):
                q = select(table).where(table.c.incident_id == incident["id"]).order_by(table.c.id)
                rows[table.name] = [strip(r) for r in s.execute(q).mappings()]
            q = select(stream).where(stream.c.seq > after, stream.c.seq <= upto).order_by(stream.c.seq)
            rows["stream_event"] = [strip(r) for r in s.execute(q).mappings()]
            per_call.append(rows)
    direct, session = per_call
    assert len(direct["patient"]) == 2 and len(direct["timeline_event"]) == 2 and len(direct["stream_event"]) == 3
    assert direct == session


def test_concurrent_retries_write_one_set_of_rows(w: World) -> None:
    """Eight simultaneous retries of one call: one incident, one patient, one node of each kind and one stream
    message of each kind for it."""
    head = _stream_head(w)
    responses = at_once(*[lambda: _post(w, key="race", **CHEST)] * 8)
    codes = [res.status_code for res in responses]
    ids = [res.json()["id"] for res in responses]
    assert len(set(ids)) == 1 and sorted(codes) == [200] * 7 + [201]
    with _app(w).state.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert s.scalar(select(func.count()).select_from(Patient)) == 1
        kinds = s.scalars(select(TimelineEventRow.kind).order_by(TimelineEventRow.id)).all()
    assert kinds == ["psap_call", "determinant_set"]
    assert [kind for kind, _ in _messages_after(w, head)] == [
        "timeline.psap_call", "timeline.determinant_set", "incident.updated"]


def test_a_live_client_gets_a_new_call_at_once_and_a_resuming_one_gets_it_again(settings: Settings) -> None:
    """A stream client watching a real server sees a call created over HTTP within a second (woken by the commit,
    on PostgreSQL by the statement's NOTIFY, not by the 2-second poll); with Last-Event-ID it gets the rest again."""
    from datetime import UTC, datetime, timedelta

    import httpx2

    from lifechain.app import create_app
    from lifechain.auth import flows as auth_flows
    from lifechain.auth.core import Principal, Role
    from live_server import serving
    from sse_client import read_events

    who = Principal(id=1, username="d", display_name="D", roles=frozenset({Role.DISPATCHER}))
    now = datetime.now(UTC)
    headers = {"Authorization": "Bearer " + auth_flows.issue_token(who, secret=settings.secret_key, now=now,
                                                                   ttl_s=600)}
    app = create_app(settings)
    sent: list[float] = []
    created: list[Any] = []
    with serving(app) as base:

        def create() -> None:
            sent.append(time.monotonic())
            created.append(httpx2.post(f"{base}/api/v1/incidents", headers=headers, timeout=10,
                                      json={"city": CITY, "location": north(0), "address": "Aleksanterinkatu 5",
                                            **CHEST}))

        got = read_events(f"{base}/api/v1/stream", headers=headers, count=3,
                          on_open=lambda: threading.Timer(0.3, create).start())
        latency = time.monotonic() - sent[0]
        again = read_events(f"{base}/api/v1/stream", headers={**headers, "Last-Event-ID": str(got[0]["id"])},
                            count=2)
    assert created[0].status_code == 201, created[0].text
    iid = created[0].json()["id"]
    assert [e["event"] for e in got] == ["timeline.psap_call", "timeline.determinant_set", "incident.updated"]
    assert [e["data"]["incident_id"] for e in got[:2]] == [iid, iid] and got[2]["data"]["id"] == iid
    assert got[0]["data"]["actor"] == "user:d" and got[0]["data"]["payload"] == {"address": "Aleksanterinkatu 5"}
    assert latency < 1.0
    assert [(e["id"], e["event"]) for e in again] == [(e["id"], e["event"]) for e in got[1:]]
    assert timedelta(0) <= datetime.fromisoformat(got[0]["data"]["at"]) - now < timedelta(seconds=30)


def test_wanted_asks_the_subscribers_checks() -> None:
    """An event is wanted when a subscriber without a check, or whose check says yes, listens to its kind or "*"."""
    from datetime import UTC, datetime

    ev = events.DomainEvent("test.wanted", {"n": 1}, datetime.now(UTC), {"interesting": False})

    def handler(_s: object, _e: events.DomainEvent) -> None:
        return None

    def everything(_s: object, _e: events.DomainEvent) -> None:
        return None

    bus = events.Bus()
    assert not bus.wanted(ev)
    bus.subscribe("test.wanted", handler, wants=lambda e: bool(e.meta.get("interesting")))
    assert not bus.wanted(ev)
    assert bus.wanted(events.DomainEvent("test.wanted", {}, ev.at, {"interesting": True}))
    bus.subscribe("*", everything)
    assert bus.wanted(ev)
    bus.unsubscribe("*", everything)
    bus.subscribe("test.wanted", handler)  # subscribed again without a check: wants everything
    assert bus.wanted(ev)
    bus.unsubscribe("test.wanted", handler)
    assert not bus.wanted(ev)
