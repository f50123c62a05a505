"""The database layer: engine and session factories, the declarative base. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every Lifechain table."""

    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout so concurrent writers queue."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        _queue_sqlite_writers(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No ping before every checkout (a round trip per request); connections are recycled instead, and a connection
    # the server dropped fails one request.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


def make_statement_engine(url: str, **kwargs: Any) -> Engine:
    """A PostgreSQL engine for single-statement hot-path writes on raw DB-API connections: autocommit (each statement
    is its own transaction: no BEGIN and COMMIT round trips) and generic plans for prepared statements. psycopg
    prepares a statement run 5 times on a connection; PostgreSQL then keeps re-planning it for every call when a
    custom plan looks cheaper, as it always does for a statement over JSON arrays (~0.2 ms of server CPU each)."""
    kwargs.setdefault("pool_size", 3)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _autocommit_generic(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.autocommit = True
        dbapi_conn.prepare_threshold = 0
        dbapi_conn.execute("SET plan_cache_mode = force_generic_plan")

    return engine


class StatementPool:
    """Autocommit psycopg connections with generic plans (as `make_statement_engine`'s) for single-statement
    hot-path writes, awaited on the event loop that started the pool: no thread-pool hop per request, which cost
    more CPU than the statement itself. At most `size` statements run at once; connections open on first need."""

    def __init__(self, url: str, *, size: int = 4) -> None:
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._idle: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def start(self) -> None:
        """Serve the running event loop (called on it, at server start)."""
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self._size)

    def serves_this_loop(self) -> bool:
        """Whether the pool may be used here: only on the loop it was started on (a test client may run each
        request on an event loop of its own)."""
        return self._loop is not None and self._loop is asyncio.get_running_loop()

    async def fetchone(self, query: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run one statement (its own transaction) and return its first row, if any."""
        assert self._slots is not None, "start() the pool first"
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            reuse = False
            try:
                cur = await conn.execute(query, params)
                row: tuple[Any, ...] | None = await cur.fetchone()
                reuse = True
                return row
            except Exception:
                # A statement error leaves an autocommit connection idle and usable; a lost one is dropped.
                reuse = not conn.broken
                raise
            finally:
                if reuse and not conn.closed and conn.info.transaction_status.name == "IDLE":
                    self._idle.append(conn)
                else:  # broken, or cancelled in the middle of a statement
                    await conn.close()

    async def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            await self._idle.pop().close()

    async def _connect(self) -> Any:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, prepare_threshold=0)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        return conn



_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_LOCKED = "lifechain_sqlite_write_lock"


def _queue_sqlite_writers(engine: Engine) -> None:
    """SQLite has one writer at a time and makes the others poll with growing sleeps (up to 100 ms each), which
    ruins tail latency under load. Within one process, writers queue on a lock instead: taken at a connection's
    first write, released when the connection goes back to the pool (right after its commit or rollback)."""
    lock = threading.Lock()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_LOCKED) or not statement.lstrip()[:6].upper().startswith(_WRITES):
            return
        if not lock.acquire(timeout=30):
            raise sqlite3.OperationalError("database is locked (waited 30 s for another writer of this process)")
        conn.info[_LOCKED] = True

    def _release(_dbapi_conn: Any, record: Any, *_args: Any) -> None:
        if record is not None and record.info.pop(_LOCKED, False):
            lock.release()

    event.listen(engine, "checkin", _release)
    event.listen(engine, "invalidate", _release)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine` that keeps objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def import_all_tables() -> None:
    """Import every domain's tables so `Base.metadata` is complete (migrations, tests)."""
    import importlib
    import pkgutil

    import lifechain

    for mod in pkgutil.iter_modules(lifechain.__path__):
        if mod.ispkg:
            try:
                importlib.import_module(f"lifechain.{mod.name}.tables")
            except ModuleNotFoundError as exc:
                if exc.name != f"lifechain.{mod.name}.tables":
                    raise


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema with Alembic (all domain heads)."""
    from alembic import command

    command.upgrade(alembic_config(url), "heads")


def alembic_config(url: str) -> Any:
    """The Alembic configuration for `url`, pointing at the packaged migrations."""
    from pathlib import Path

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
