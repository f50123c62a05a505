"""Reading the files people write or export for Lifechain (scenarios, alert policies, protocols, AED and JEMSS
tables): every way such a file can be wrong is one `Invalid` that names it, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifechain.errors import Invalid


def read_text(path: Path, *, what: str) -> str:
    """A text file's content (UTF-8, with or without a byte-order mark, as spreadsheets write CSV); `what` it is
    (e.g. "AED file") starts the refusal when it cannot be read or is not UTF-8 text."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{what} {path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise Invalid(f"cannot read {what} {path}: {exc.strerror}") from exc


def read_yaml(path: Path, *, what: str) -> Any:
    """The data of a YAML file (`what` it is, e.g. "scenario file", starts the refusal): `Invalid` when it cannot be
    read, is not UTF-8 text or is not YAML."""
    import yaml  # here, not with the module: the server reads such files on first use, not at start-up

    text = read_text(path, what=what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"{what} {path} is not valid YAML: {exc}") from exc
