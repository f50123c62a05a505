"""End-to-end tests in real headless Chromium against a real server (run with `pytest -m e2e`)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.e2e


def test_shell_in_both_languages_draws_the_city_map_offline(
    run_script: Callable[[str], subprocess.CompletedProcess[str]],
) -> None:
    """Home, sign-in and the city map render in en and zh-CN, and no request leaves 127.0.0.1."""
    done = run_script("smoke.mjs")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "smoke: OK" in done.stdout
    assert "leaving 127.0.0.1: 0" in done.stdout
