"""The geo commands: city import (idempotent with --if-missing), city list, route --json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from lifechain.cli import _register_domains, app


def test_import_list_and_route(helsinki_cities_dir: Path, tmp_path: Path) -> None:
    """--if-missing skips an existing city; list shows it; route --json prints seconds and metres."""
    _register_domains()
    shutil.copytree(helsinki_cities_dir, tmp_path / "cities")
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    out = runner.invoke(app, [*base, "city", "import", "builtin:helsinki", "--name", "helsinki", "--if-missing"])
    assert out.exit_code == 0 and "nothing to do" in out.output
    listed = runner.invoke(app, [*base, "city", "list"])
    assert listed.exit_code == 0 and listed.output.startswith("helsinki: bbox")
    routed = runner.invoke(app, [*base, "route", "helsinki", "60.1685,24.9405", "60.1755,24.9500", "--json"])
    assert routed.exit_code == 0, routed.output
    body = json.loads(routed.output)
    assert set(body) == {"seconds", "meters"} and body["seconds"] > 0 and body["meters"] > 500
    bad = runner.invoke(app, [*base, "route", "helsinki", "60.1685,24.9405", "60.1755,24.9500", "--mode", "fly"])
    assert bad.exit_code == 2 and "unknown mode" in bad.output


def test_an_unreadable_osm_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """A file that is not OSM data (or is missing) ends `city import` with the file and osmium's reason, exit 2."""
    _register_domains()
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"this is not a PBF file")
    out = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "city", "import", str(broken), "--name", "x"])
    assert out.exit_code == 2, out.output
    assert f"cannot read the OSM file {broken}: PBF error" in out.output
    assert not (tmp_path / "cities" / "x").exists()
