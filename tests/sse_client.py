"""A minimal server-sent-events reader for tests."""

from __future__ import annotations

import json
from typing import Any

import httpx2


def read_events(url: str, *, headers: dict[str, str], count: int, timeout: float = 10.0,
                on_open: Any = None) -> list[dict[str, Any]]:
    """Open the stream at `url`, call `on_open()` once connected, and return the first `count` events."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with httpx2.stream("GET", url, headers=headers, timeout=timeout) as res:
        assert res.status_code == 200, res.read()
        if on_open is not None:
            on_open()
        for line in res.iter_lines():
            if not line:
                if "data" in current:
                    out.append(current)
                    if len(out) >= count:
                        return out
                current = {}
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                current["id"] = int(value)
            elif field == "event":
                current["event"] = value
            elif field == "data":
                current["data"] = json.loads(value)
    return out
