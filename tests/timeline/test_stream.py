"""The live stream: durable numbered messages, resume with Last-Event-ID, fan-out across processes on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from lifechain import events
from lifechain.app import create_app
from lifechain.auth import flows as auth_flows
from lifechain.auth.core import Principal, Role
from lifechain.db import transaction
from lifechain.settings import Settings
from live_server import serving
from sse_client import read_events

NOW = datetime.now(UTC)


def _token(settings: Settings, role: Role = Role.DISPATCHER) -> dict[str, str]:
    who = Principal(id=1, username="d", display_name="D", roles=frozenset({role}))
    raw = auth_flows.issue_token(who, secret=settings.secret_key, now=datetime.now(UTC), ttl_s=600)
    return {"Authorization": f"Bearer {raw}"}


def _publish(app: FastAPI, *names: str) -> None:
    with transaction(app.state.sessionmaker) as s:
        for name in names:
            events.publish(s, "test.thing", {"name": name}, at=NOW)


def test_bus_calls_subscribers_in_the_same_transaction(settings: Settings) -> None:
    """A subscriber runs inside the publisher's transaction; a rollback drops the stream message too."""
    app = create_app(settings)
    seen: list[str] = []

    def handler(_session: object, ev: events.DomainEvent) -> None:
        seen.append(ev.payload["name"])

    app.state.bus.subscribe("test.thing", handler)
    try:
        _publish(app, "a")
        with pytest.raises(RuntimeError), transaction(app.state.sessionmaker) as s:
            events.publish(s, "test.thing", {"name": "rolled back"}, at=NOW)
            raise RuntimeError("boom")
        _publish(app, "b")
    finally:
        app.state.bus.unsubscribe("test.thing", handler)
    assert seen == ["a", "rolled back", "b"]
    from lifechain.timeline import repo

    with transaction(app.state.sessionmaker) as s:
        repo.sequence(session=s)
        names = [r.payload["name"] for r in repo.stream_after(session=s, after_id=0)]
    assert names == ["a", "b"]
    app.state.engine.dispose()


def test_stream_resumes_after_last_event_id_and_delivers_live(settings: Settings) -> None:
    """A client gets everything after its Last-Event-ID in order, then new messages as they are committed."""
    app = create_app(settings)
    _publish(app, "one", "two", "three")
    with serving(app) as base:
        url = f"{base}/api/v1/stream"
        first = read_events(f"{url}?since=0", headers=_token(settings), count=3)
        assert [e["data"]["name"] for e in first] == ["one", "two", "three"]
        assert first[0]["id"] < first[1]["id"] < first[2]["id"]
        resumed = read_events(url, headers={**_token(settings), "Last-Event-ID": str(first[0]["id"])}, count=2)
        assert [e["data"]["name"] for e in resumed] == ["two", "three"]
        live = read_events(url, headers=_token(settings), count=1,
                           on_open=lambda: threading.Timer(0.2, _publish, (app, "four")).start())
        assert [(e["event"], e["data"]["name"]) for e in live] == [("test.thing", "four")]


def test_stream_roles(settings: Settings) -> None:
    """A volunteer may not watch the dispatch stream; nobody signed in gets 401."""
    from fastapi.testclient import TestClient

    client = TestClient(create_app(settings))
    assert client.get("/api/v1/stream", headers=_token(settings, Role.VOLUNTEER)).status_code == 403
    assert client.get("/api/v1/stream").status_code == 401


@pytest.mark.postgres
def test_events_fan_out_between_processes_on_postgres(settings: Settings) -> None:
    """Two apps on one PostgreSQL database: a message committed by one reaches the other's stream via NOTIFY."""
    if not settings.sqlalchemy_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY fan-out is a PostgreSQL feature")
    publisher, watcher = create_app(settings), create_app(settings)
    with serving(watcher) as base:
        sent: list[float] = []

        def publish_on_other_app() -> None:
            sent.append(time.monotonic())
            _publish(publisher, "from the other process")

        got = read_events(f"{base}/api/v1/stream", headers=_token(settings), count=1,
                          on_open=lambda: threading.Timer(0.3, publish_on_other_app).start())
        latency = time.monotonic() - sent[0]
    assert got[0]["data"]["name"] == "from the other process"
    # Woken by NOTIFY, not by the 2-second fallback poll.
    assert latency < 1.0
    publisher.state.engine.dispose()


@pytest.mark.postgres
def test_a_message_committed_late_is_not_lost_on_postgres(settings: Settings) -> None:
    """A writer that started first but commits last still reaches a reader that already resumed past the other's
    message: numbers follow visibility, not insertion."""
    if not settings.sqlalchemy_url.startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL")
    from lifechain.timeline import repo

    app = create_app(settings)
    factory = app.state.sessionmaker
    slow = factory()
    slow.begin()
    events.publish(slow, "test.thing", {"name": "slow"}, at=NOW)
    slow.flush()
    events._write_pending(slow)  # inserted (lower id), not yet committed
    _publish(app, "fast")

    def read(after: int) -> list[tuple[int, str]]:
        with factory() as s:
            with s.begin():
                repo.sequence(session=s)
            return [(r.seq, r.payload["name"]) for r in repo.stream_after(session=s, after_id=after)]

    first = read(0)
    assert [name for _, name in first] == ["fast"]
    slow.commit()
    slow.close()
    assert [name for _, name in read(first[-1][0])] == ["slow"]
    app.state.engine.dispose()


def test_hub_wakes_the_loop_only_while_a_waiter_is_out() -> None:
    """A commit's wake reaches the event loop only when a client took a waiter since the last wake (on PostgreSQL
    every commit of every process wakes every process); a waiting client is still woken at once."""
    import asyncio

    from lifechain.timeline.stream import StreamHub

    async def main() -> list[str]:
        hub = StreamHub("sqlite://")
        await hub.start()
        seen: list[str] = []
        real = hub._wake

        def wake() -> None:
            seen.append("wake")
            real()

        hub._wake = wake  # type: ignore[method-assign]
        hub.wake_threadsafe()
        await asyncio.sleep(0.01)
        assert seen == []
        waiter = hub.waiter()
        threading.Thread(target=hub.wake_threadsafe).start()
        started = time.monotonic()
        await hub.wait(waiter, 5.0)
        assert waiter is not None and waiter.is_set() and time.monotonic() - started < 1.0
        hub.wake_threadsafe()
        await asyncio.sleep(0.01)
        await hub.stop()
        return seen

    assert asyncio.run(main()) == ["wake"]


def test_each_app_has_its_own_bus(settings: Settings) -> None:
    """A subscriber of one app never hears another app's events in the same process (each app's sessions carry
    its own bus), and sessions made without an app use the default bus."""
    first, second = create_app(settings), create_app(settings)
    heard: list[str] = []
    first.state.bus.subscribe("test.thing", lambda _s, ev: heard.append(ev.payload["name"]))
    _publish(second, "not for first")
    _publish(first, "for first")
    assert heard == ["for first"]
    assert events.bus_of(first.state.sessionmaker()) is first.state.bus is not second.state.bus
    from lifechain.db import make_sessionmaker

    assert events.bus_of(make_sessionmaker(first.state.engine)()) is events.DEFAULT
    first.state.engine.dispose()
    second.state.engine.dispose()
