"""Waking live-stream clients: in-process after each commit, and across processes via PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lifechain.events import CHANNEL, WRITTEN


class StreamHub:
    """Tells waiting stream clients that new messages may be in `stream_event` (they then read the table)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        # Whether a waiter was handed out since the last wake: if not, nobody can be waiting and a wake (one per
        # commit of any process on PostgreSQL) need not wake the event loop at all.
        self._armed = False

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Wake clients after every commit of this app's sessions that wrote stream messages."""

        def after_commit(session: Session) -> None:
            if session.info.pop(WRITTEN, False):
                self.wake_threadsafe()

        event.listen(factory, "after_commit", after_commit)

    async def start(self) -> None:
        """Bind to the running loop; on PostgreSQL also LISTEN for other processes' commits."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if make_url(self._url).get_backend_name() == "postgresql":
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="stream-listen", daemon=True)
            self._thread.start()
            await asyncio.get_running_loop().run_in_executor(None, self.listening.wait, 5.0)

    async def stop(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 5.0)

    def wake_threadsafe(self) -> None:
        """Wake every waiting client (callable from any thread). A client that takes its waiter after this call
        reads the table afterwards, so it finds what was committed before; so with no waiter out, nothing to do."""
        loop = self._loop
        if self._armed and loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._event is not None:
            self._armed = False
            self._event.set()
            self._event = asyncio.Event()

    def waiter(self) -> asyncio.Event | None:
        """Take this before reading the table, then `wait` on it: a wake in between is not lost."""
        self._armed = True
        return self._event

    async def wait(self, waiter: asyncio.Event | None, timeout: float) -> None:
        """Return when woken (since `waiter` was taken) or after `timeout` seconds, whichever comes first."""
        if waiter is None:
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout)

    def _listen(self) -> None:
        import psycopg

        url = make_url(self._url).set(drivername="postgresql")
        conninfo: Any = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=100):
                            self.wake_threadsafe()
            except Exception:  # the database went away: retry, clients keep polling meanwhile
                self._stop.wait(1.0)
