"""The in-process domain event bus and the durable live stream behind it.

`publish(session, kind, payload, at=...)` does two things inside the caller's transaction:
1. calls every handler subscribed to `kind` (or to "*") synchronously, with the same session, so a reaction
   (volunteers stand down when EMS is on scene) commits or rolls back together with its cause;
2. queues a live-stream message. Just before commit the queued messages are written to `stream_event`, whose ids
   therefore follow commit order (on PostgreSQL under a transaction-level advisory lock, with a NOTIFY that the
   database delivers on commit, so every server process wakes its stream clients).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

CHANNEL = "lifechain_stream"
_PENDING = "lifechain_stream_pending"
WRITTEN = "lifechain_stream_written"
# Serialises stream writers on PostgreSQL from insert to commit, so ids become visible in increasing order.
_ADVISORY_KEY = 0x11FEC4A1


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
    from lifechain.timeline.tables import StreamEventRow

    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    conn.execute(insert(StreamEventRow), [{"kind": e.kind, "payload": e.payload, "at": e.at} for e in pending])
    if postgres:
        conn.execute(text(f"NOTIFY {CHANNEL}"))
    session.info[WRITTEN] = True


def _forget_pending(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(WRITTEN, None)


event.listen(Session, "before_commit", _write_pending)
event.listen(Session, "after_rollback", _forget_pending)
