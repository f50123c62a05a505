"""The in-process domain event bus and the durable live stream behind it.

`publish(session, kind, payload, at=...)` does two things inside the caller's transaction:
1. calls every handler subscribed to `kind` (or to "*") synchronously, with the same session, so a reaction
   (volunteers stand down when EMS is on scene) commits or rolls back together with its cause;
2. queues a live-stream message. Just before commit the queued messages are written to `stream_event` in one
   insert. On SQLite they are numbered (`seq`) at once, since its single writer commits in id order; on PostgreSQL a
   NOTIFY (delivered on commit) wakes every server process, whose stream readers number the committed messages in
   visibility order (`timeline.repo.sequence`) before reading. No lock is held across commits on the write path.

Subscribers belong to an app's `Bus`. A writer whose events no subscriber wants (`Bus.wanted`: subscribers may
declare a cheap `wants` check) may write the same stream rows itself, without a session: dispatch creates a call on
PostgreSQL in one statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, text, update
from sqlalchemy.orm import Session

CHANNEL = "lifechain_stream"
_PENDING = "lifechain_stream_pending"
WRITTEN = "lifechain_stream_written"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Something that happened in one domain that others (and the live stream) may react to."""

    kind: str
    payload: dict[str, Any]
    at: datetime
    meta: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Session, DomainEvent], None]
Wants = Callable[[DomainEvent], bool]
# Where a session finds its app's bus: `db.make_sessionmaker(engine, info={BUS_KEY: bus})` puts it in every session.
BUS_KEY = "lifechain_bus"


class Bus:
    """Who reacts to which events. Each app has its own (`app.state.bus`, reached from its sessions), so two apps in
    one process (tests, say) never see each other's subscribers; sessions made without one use `DEFAULT`."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._wants: dict[tuple[str, Handler], Wants] = {}

    def subscribe(self, kind: str, handler: Handler, *, wants: Wants | None = None) -> None:
        """Call `handler(session, event)` for every event of `kind` ("*" for all); subscribing twice is a no-op.

        `wants(event)`, when given, is a cheap check without the database that may answer False only for events the
        handler would ignore: a writer that learns (`wanted`) that nobody wants its events may write them without a
        session (dispatch's one-statement call creation on PostgreSQL)."""
        handlers = self._handlers.setdefault(kind, [])
        if handler not in handlers:
            handlers.append(handler)
        if wants is not None:
            self._wants[kind, handler] = wants
        else:
            self._wants.pop((kind, handler), None)

    def unsubscribe(self, kind: str, handler: Handler) -> None:
        """Stop calling `handler` for `kind`."""
        if handler in self._handlers.get(kind, []):
            self._handlers[kind].remove(handler)
        self._wants.pop((kind, handler), None)

    def wanted(self, event: DomainEvent) -> bool:
        """Whether any subscriber may act on `event` (so it must be published in a session, not written directly).
        Ids the event will only get when stored may be missing from its payload; `meta` may carry what `wants`
        checks need."""
        for kind in (event.kind, "*"):
            for handler in self._handlers.get(kind, ()):
                check = self._wants.get((kind, handler))
                if check is None or check(event):
                    return True
        return False

    def handlers(self, kind: str) -> list[Handler]:
        """The handlers of `kind`, then those of every kind."""
        return [*self._handlers.get(kind, []), *self._handlers.get("*", [])]


DEFAULT = Bus()


def bus_of(session: Session) -> Bus:
    """The bus of the app whose sessionmaker made `session` (`DEFAULT` for other sessions)."""
    bus: Bus | None = session.info.get(BUS_KEY)
    return bus if bus is not None else DEFAULT


def publish(session: Session, kind: str, payload: dict[str, Any], *, at: datetime, stream: bool = True) -> None:
    """Announce `kind` inside the session's transaction: run its app's subscribers now, stream it on commit."""
    ev = DomainEvent(kind=kind, payload=payload, at=at)
    for handler in bus_of(session).handlers(kind):
        handler(session, ev)
    if stream:
        session.info.setdefault(_PENDING, []).append(ev)


def _write_pending(session: Session) -> None:
    pending: list[DomainEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    from lifechain.db import Base
    from lifechain.timeline.tables import StreamEventRow

    conn = session.connection()
    # executemany of one cached statement (a multi-row VALUES list would be compiled anew for every commit)
    table = Base.metadata.tables[StreamEventRow.__tablename__]
    conn.execute(insert(table), [{"kind": e.kind, "payload": e.payload, "at": e.at, "seq": None}
                                                    for e in pending])
    if conn.dialect.name == "postgresql":
        # Numbered later by `timeline.repo.sequence` in visibility order; NOTIFY is delivered on commit.
        conn.execute(text(f"NOTIFY {CHANNEL}"))
    else:
        # SQLite has one writer from its first write to its commit: ids already follow commit order.
        conn.execute(update(StreamEventRow).where(StreamEventRow.seq.is_(None)).values(seq=StreamEventRow.id))
    session.info[WRITTEN] = True


def _forget_pending(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(WRITTEN, None)


event.listen(Session, "before_commit", _write_pending)
event.listen(Session, "after_rollback", _forget_pending)
