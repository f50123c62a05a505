"""Models and migrations agree: autogenerate against a fully migrated database finds nothing to do."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from lifechain.db import Base, import_all_tables


def test_models_match_migrations(engine: Engine) -> None:
    """Every table, column, index and constraint declared in a tables.py exists in the migrations, and no more."""
    import_all_tables()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if not _is_alembic_table(d)]
    assert diff == []


def _is_alembic_table(d: object) -> bool:
    return isinstance(d, tuple) and d[0] == "remove_table" and getattr(d[1], "name", "") == "alembic_version"
