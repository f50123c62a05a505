"""Models and migrations agree: autogenerate against a fully migrated database finds nothing to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


# ---- the quick check `lifechain serve` runs before deciding to call Alembic -----------------------------------
def test_quick_reader_reads_what_alembic_reads() -> None:
    """Every migration's parents as the quick reader sees them equal Alembic's (down revisions and dependencies),
    so the heads it computes cannot drift from Alembic's as migrations are added."""
    from alembic.script import ScriptDirectory

    from lifechain import db

    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    alembic_graph = {s.revision: frozenset(s._all_down_revisions) for s in script.walk_revisions()}
    assert db.migration_graph() == alembic_graph
    assert len(alembic_graph) >= 9


def test_quick_heads_are_what_a_migrated_database_records(db_url: str) -> None:
    """After `alembic upgrade heads` the version table holds exactly the quick heads (dependencies included)."""
    from lifechain import db

    heads = db.migration_heads()
    assert heads is not None and "fleet_0001" not in heads  # dispatch depends on it: not recorded
    assert db.database_heads(db_url) == heads


def test_ensure_upgraded_leaves_a_current_database_alone(db_url: str) -> None:
    from lifechain import db

    assert db.ensure_upgraded(db_url) is False


def test_ensure_upgraded_migrates_a_database_that_is_behind(tmp_path: Path) -> None:
    """A database one migration behind on one branch, and an empty one, are brought to the newest schema."""
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from lifechain import db

    behind = f"sqlite:///{tmp_path / 'behind.db'}"
    command.upgrade(db.alembic_config(behind), "heads")
    command.downgrade(db.alembic_config(behind), "timeline_0001")
    assert "timeline_0001" in (db.database_heads(behind) or ())
    assert db.ensure_upgraded(behind) is True
    assert db.database_heads(behind) == db.migration_heads()
    engine = create_engine(behind)
    assert "seq" in {c["name"] for c in inspect(engine).get_columns("stream_event")}  # timeline_0002 ran again
    engine.dispose()

    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert db.database_heads(empty) is None
    assert db.ensure_upgraded(empty) is True
    assert db.database_heads(empty) == db.migration_heads()
    engine = create_engine(empty)
    assert {"incident", "app_user", "stream_event", "volunteer"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("body", [
    'revision = "b"\ndown_revision = (\n    "a",\n)\n',  # over several lines
    'revision = "b"\ndown_revision = "a"\ndepends_on = "somebranch@head"\n',  # a label, not a revision
    'revision = make_id()\ndown_revision = "a"\n',  # computed
])
def test_quick_reader_gives_up_on_what_it_cannot_read(tmp_path: Path, body: str) -> None:
    """Anything but plain literals naming known revisions makes the quick check defer to Alembic."""
    from lifechain import db

    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text(body)
    assert db.migration_heads(tmp_path) is None
    (tmp_path / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    assert db.migration_heads(tmp_path) == frozenset({"b"})


def test_commands_that_sign_nothing_run_without_the_secret_and_the_server_still_refuses(
        tmp_path: Path, helsinki_cities_dir: Path) -> None:
    """Outside demo mode with no secret configured (a production host before its secret is set, or an operator's
    shell), `db upgrade` and the AED import and export work: they sign nothing. `serve` and the demo data still
    refuse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECHAIN_")}
    env.update(LIFECHAIN_DATA_DIR=str(tmp_path), COLUMNS="250")  # the error box in one line
    (tmp_path / "cities").symlink_to(helsinki_cities_dir, target_is_directory=True)  # AEDs go into an imported city

    def lifechain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lifechain", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    up = lifechain("db", "upgrade")
    assert up.returncode == 0 and "database is up to date" in up.stdout, up.stderr
    aeds = tmp_path / "aeds.csv"
    aeds.write_text("lat,lon,indoor\n60.17,24.94,By the door\n")
    imported = lifechain("volunteers", "import-aeds", "--city", "helsinki", "--csv", str(aeds))
    assert imported.returncode == 0 and "1 AEDs imported for helsinki" in imported.stdout, imported.stderr
    exported = lifechain("volunteers", "export-aeds", "--city", "helsinki")
    assert exported.returncode == 0 and "By the door" in exported.stdout, exported.stderr
    for refused in (("serve", "--port", "1"), ("volunteers", "demo")):
        run = lifechain(*refused)
        assert run.returncode == 2, run.stderr
        assert "Invalid value: refusing to start with the built-in demo secret outside demo mode" in run.stderr
        assert "errors.pydantic.dev" not in run.stderr and "input_value" not in run.stderr  # the reason alone
    env["LIFECHAIN_DEMO_MODE"] = "maybe"  # a bad value is reported, not passed over by the fallback to demo mode
    bad = lifechain("db", "upgrade")
    assert bad.returncode == 2 and "Invalid value: demo_mode: Input should be a valid boolean" in bad.stderr, bad.stderr
