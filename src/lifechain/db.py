"""The database layer: engine and session factories, the declarative base. Nothing connects at import time."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
MIGRATIONS = Path(__file__).with_name("migrations")
# The revision lines of a migration file, as Alembic's template writes them (`revision: str = "..."` too).
_REVISION_LINE = re.compile(r"^(revision|down_revision|depends_on)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and read back aware in UTC on every database. SQLite keeps no offset: an aware
    time in another zone (a diversion until 18:00+08:00) was stored as its wall-clock digits and read back as that
    hour in UTC, eight hours off; and SQLite returned naive times, which each reader had to remember to mark as UTC.
    A naive time given is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return _utc(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


# A statement connection (`make_statement_engine`, `StatementPool`): autocommit, prepared from the first run, and
# generic plans; the plan setting is a SET, not a startup option, which a connection pooler such as PgBouncer refuses.
_STATEMENT_CONNECT: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}
_GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"


def _conninfo(url: str) -> str:
    """A libpq connection string for an SQLAlchemy URL (any driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_statement_engine(url: str, **kwargs: Any) -> Engine:
    """A PostgreSQL engine for single-statement hot-path writes on raw DB-API connections: autocommit (each statement
    is its own transaction: no BEGIN and COMMIT round trips) and generic plans for prepared statements. psycopg
    prepares a statement run 5 times on a connection; PostgreSQL then keeps re-planning it for every call when a
    custom plan looks cheaper, as it always does for a statement over JSON arrays (~0.2 ms of server CPU each)."""
    import psycopg

    conninfo = _conninfo(url)

    def connect() -> Any:
        conn = psycopg.connect(conninfo, **_STATEMENT_CONNECT)
        conn.execute(_GENERIC_PLANS)
        return conn

    kwargs.setdefault("pool_size", 3)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, creator=connect, **kwargs)


class StatementPool:
    """Autocommit psycopg connections with generic plans (as `make_statement_engine`'s) for single-statement
    hot-path writes, awaited on the event loop that started the pool: no thread-pool hop per request, which cost
    more CPU than the statement itself. At most `size` statements run at once; connections open on first need."""

    def __init__(self, url: str, *, size: int = 4) -> None:
        self._conninfo = _conninfo(url)
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

        conn = await psycopg.AsyncConnection.connect(self._conninfo, **_STATEMENT_CONNECT)
        await conn.execute(_GENERIC_PLANS)
        return conn


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_LOCKED = "lifechain_sqlite_write_lock"
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def _queue_sqlite_writers(engine: Engine) -> None:
    """SQLite has one writer at a time and makes the others poll with growing sleeps (up to 100 ms each), which
    ruins tail latency under load. Within one process, writers queue on a lock instead: taken at a connection's
    first write, released when the connection goes back to the pool (right after its commit or rollback)."""
    lock = _SQLITE_WRITE_LOCKS[engine] = threading.Lock()

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


@contextmanager
def sqlite_writer(engine: Engine) -> Iterator[sqlite3.Connection]:
    """A raw sqlite3 connection of a `make_engine` SQLite engine that holds this process's write lock (as a
    session's first write takes it) until it goes back to the pool; the caller commits, the rest is rolled back."""
    raw = engine.raw_connection()
    try:
        if not _SQLITE_WRITE_LOCKS[engine].acquire(timeout=30):
            raise sqlite3.OperationalError("database is locked (waited 30 s for another writer of this process)")
        raw.info[_LOCKED] = True  # released by the engine's checkin listener
        conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        yield conn
    finally:
        raw.close()


def make_sessionmaker(engine: Engine, *, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """A session factory bound to `engine` that keeps objects usable after commit; `info` goes into every session's
    `info` (the app's event bus, say)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)


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


def ensure_upgraded(url: str) -> bool:
    """Upgrade the database at `url` unless it is already at the newest schema; returns whether Alembic ran.

    Server start-up calls this: reading the `alembic_version` rows and the migration files' revision lines takes a
    few milliseconds, where loading Alembic and its script directory takes ~0.3 s. Anything unexpected (no version
    table, a revision this code does not know, a migration file the quick reader cannot parse) goes to Alembic.
    """
    heads = migration_heads()
    if heads is not None and database_heads(url) == heads:
        return False
    upgrade(url)
    return True


def migration_graph(versions: Path | None = None) -> dict[str, frozenset[str]] | None:
    """Each migration's revision and the revisions it builds on (`down_revision` and `depends_on`), read from the
    files' revision lines without importing Alembic; None when a file is not plainly readable that way (a value
    over several lines, a computed value, a branch label or partial id as a dependency)."""
    import ast

    graph: dict[str, frozenset[str]] = {}
    for path in sorted((versions or MIGRATIONS / "versions").glob("*.py")):
        fields: dict[str, object] = {}
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            try:
                fields[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        rev = fields.get("revision")
        if not isinstance(rev, str) or rev in graph:
            return None
        parents: set[str] = set()
        for name in ("down_revision", "depends_on"):
            value = fields.get(name)
            items = [value] if isinstance(value, str) else value or ()
            if not isinstance(items, tuple | list) or not all(isinstance(i, str) for i in items):
                return None
            parents.update(items)
        graph[rev] = frozenset(parents)
    if not set().union(*graph.values()) <= graph.keys():
        return None
    return graph


def migration_heads(versions: Path | None = None) -> frozenset[str] | None:
    """The revisions a fully migrated database records in `alembic_version` (None: ask Alembic).

    Alembic records the revisions no other revision builds on, through `down_revision` or `depends_on` (a
    dependency counts as an ancestor: `dispatch_0001` depends on `fleet_0001`, so `fleet_0001` is not recorded).
    """
    graph = migration_graph(versions)
    if graph is None:
        return None
    return frozenset(graph.keys() - set().union(*graph.values()))


def database_heads(url: str) -> frozenset[str] | None:
    """The revisions in the database's `alembic_version` table (None when there is no such table yet)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return frozenset(str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version")))
    except DBAPIError:
        return None
    finally:
        engine.dispose()


def alembic_config(url: str) -> Any:
    """The Alembic configuration for `url`, pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
