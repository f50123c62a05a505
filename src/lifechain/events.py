"""The in-process domain event bus and the durable live stream behind it.

`publish(session, kind, payload, at=...)` does two things inside the caller's transaction:
1. calls every handler subscribed to `kind` (or to "*") synchronously, with the same session, so a reaction
   (volunteers stand down when EMS is on scene) commits or rolls back together with its cause;
2. queues a live-stream message. Just before commit the queued messages are written to `stream_event` in one
   insert. On SQLite they are numbered (`seq`) at once, since its single writer commits in id order; on PostgreSQL a
   NOTIFY (delivered on commit) wakes every server process, whose stream readers number the committed messages in
   visibility order (`timeline.repo.sequence`) before reading. No lock is held across commits on the write path.
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
_handlers: dict[str, list[Handler]] = {}


def subscribe(kind: str, handler: Handler) -> None:
    """Call `handler(session, event)` for every event of `kind` ("*" for all); subscribing twice is a no-op."""
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(kind: str, handler: Handler) -> None:
    """Stop calling `handler` for `kind`."""
    if handler in _handlers.get(kind, []):
        _handlers[kind].remove(handler)


def publish(session: Session, kind: str, payload: dict[str, Any], *, at: datetime, stream: bool = True) -> None:
    """Announce `kind` inside the session's transaction: run subscribers now, stream it on commit."""
    ev = DomainEvent(kind=kind, payload=payload, at=at)
    for handler in [*_handlers.get(kind, []), *_handlers.get("*", [])]:
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
