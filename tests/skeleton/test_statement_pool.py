"""The statement pool (PostgreSQL): autocommit connections with generic plans, awaited on the loop that started it,
at most `size` at once, reused after a statement error, dropped when lost or cancelled in mid-statement."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from lifechain.db import StatementPool, make_statement_engine

PID = "SELECT pg_backend_pid()"


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("the statement pool is for PostgreSQL")
    return db_url


def test_connections_are_autocommit_generic_plan_and_reused(pg_url: str) -> None:
    async def main() -> None:
        pool = StatementPool(pg_url, size=2)
        pool.start()
        assert pool.serves_this_loop()
        first = await pool.fetchone(PID, {})
        assert first == await pool.fetchone(PID, {})
        assert await pool.fetchone("SHOW plan_cache_mode", {}) == ("force_generic_plan",)
        # Autocommit: every statement is its own transaction (none is left open after it).
        assert await pool.fetchone("SELECT txid_current()", {}) != await pool.fetchone("SELECT txid_current()", {})
        # At most two at once: five concurrent sleepers use two connections.
        pids = await asyncio.gather(*(pool.fetchone("SELECT pg_backend_pid() FROM pg_sleep(0.05)", {})
                                      for _ in range(5)))
        assert len(set(pids)) == 2
        await pool.close()

    asyncio.run(main())


def test_an_error_keeps_the_connection_a_lost_or_cancelled_one_is_dropped(pg_url: str) -> None:
    async def main() -> None:
        pool = StatementPool(pg_url, size=1)
        pool.start()
        pid = await pool.fetchone(PID, {})
        with pytest.raises(psycopg.errors.DivisionByZero):
            await pool.fetchone("SELECT 1 / 0", {})
        assert await pool.fetchone(PID, {}) == pid
        with pytest.raises(psycopg.OperationalError):
            await pool.fetchone("SELECT pg_terminate_backend(pg_backend_pid())", {})
        second = await pool.fetchone(PID, {})
        assert second != pid
        slow = asyncio.create_task(pool.fetchone("SELECT pg_sleep(5)", {}))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await pool.fetchone(PID, {}) not in (pid, second)
        await pool.close()

    asyncio.run(main())


def test_the_pool_serves_only_the_loop_that_started_it(pg_url: str) -> None:
    pool = StatementPool(pg_url)

    async def start() -> None:
        pool.start()

    async def other() -> bool:
        return pool.serves_this_loop()

    assert not asyncio.run(other())
    asyncio.run(start())
    assert not asyncio.run(other())


def test_statement_engine_connections_are_autocommit_with_generic_plans(pg_url: str) -> None:
    engine = make_statement_engine(pg_url)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None and conn.autocommit and conn.prepare_threshold == 0
        assert conn.execute("SHOW plan_cache_mode").fetchone() == ("force_generic_plan",)
    finally:
        raw.close()
        engine.dispose()
