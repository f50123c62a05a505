"""Print the server's OpenAPI document as JSON, built from `create_app` without starting a server or a database."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from lifechain.app import create_app
from lifechain.settings import Settings


def main() -> None:
    """Write the spec to the path given as the only argument (stdout without one)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), demo_mode=True, web_dist=Path(tmp) / "no-web")
        spec = create_app(settings).openapi()
    text = json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
