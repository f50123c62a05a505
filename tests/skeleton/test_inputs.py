"""What the API takes is refused at the edge, with a 422 naming the field, when a database could not keep it: an
integer beyond its column (`Python int too large to convert to SQLite INTEGER`, PostgreSQL's `integer out of range`)
or text with a NUL character (`PostgreSQL text fields cannot contain NUL (0x00) bytes`) were 500s."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.auth_helpers import add_user, bearer

from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.settings import Settings
from lifechain.timeline.views import _parse_id

_NUL = "text must not contain NUL (0x00) characters"
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _integers(schema: dict[str, Any], spec: dict[str, Any], where: str, seen: frozenset[str]) -> list[tuple[str, Any]]:
    """(place, maximum) of every integer in a JSON schema, following $refs (each once per path)."""
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:
            return []
        name = ref.rsplit("/", 1)[1]
        return _integers(spec["components"]["schemas"][name], spec, f"{where}<{name}>", seen | {ref})
    found: list[tuple[str, Any]] = []
    if schema.get("type") == "integer":
        found.append((where, schema.get("maximum")))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()):
            found += _integers(sub, spec, where, seen)
    for name, sub in schema.get("properties", {}).items():
        found += _integers(sub, spec, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _integers(schema[key], spec, f"{where}[]", seen)
    return found


def test_every_integer_input_has_a_64_bit_maximum(settings: Settings) -> None:
    """Path, query and body integers of every operation carry a maximum of at most 2**63 - 1 (pydantic writes a
    body field's bound as a float, which rounds 2**63 - 1 up to 2**63)."""
    spec = create_app(settings).openapi()
    inputs: list[tuple[str, Any]] = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", ()):
                inputs += _integers(param["schema"], spec, f"{method.upper()} {path} {param['name']}", frozenset())
            for media in op.get("requestBody", {}).get("content", {}).values():
                inputs += _integers(media["schema"], spec, f"{method.upper()} {path} body", frozenset())
    assert len(inputs) > 30  # ids in paths and bodies, cursors, counts
    unbounded = sorted({where for where, maximum in inputs if maximum is None or maximum > float(INT64_MAX)})
    assert unbounded == [], "\n".join(unbounded)


def test_oversized_ids_cursors_and_seeds_are_refused_naming_the_field(settings: Settings) -> None:
    """A row id above 2**31 - 1 (PostgreSQL `integer`) or an event id or cursor above 2**63 - 1 (`bigint`), in a
    path, a query or a body, is a 422 that names the field, as are a negative seed, a simulation of a billion days
    and an ambulance due in 1e300 seconds (a timedelta overflow); the largest id is a plain 404 (no such row) on both
    databases; an oversized Last-Event-ID is ignored like any other header that is not an event id."""
    row, event = 2**31, 2**63
    with TestClient(create_app(settings)) as client:
        add_user(client.app, "boss", Role.ADMIN)  # type: ignore[arg-type]
        auth = bearer(client, "boss")
        for method, url, body, field in (
            ("GET", f"/api/v1/incidents/{row}", None, "incident_id"),
            ("GET", f"/api/v1/units/{row}", None, "unit_id"),
            ("GET", f"/api/v1/incidents/{row}/timeline", None, "incident_id"),
            ("GET", f"/api/v1/stream?since={event}", None, "since"),
            ("POST", "/api/v1/incidents/1/dispatch", {"unit_id": row}, "unit_id"),
            ("POST", "/api/v1/incidents/1/timeline/corrections", {"supersedes": event, "reason": "typo"}, "supersedes"),
            ("POST", "/api/v1/planning/runs", {"scenario": {"name": "x", "seed": -1}}, "seed"),
            ("POST", "/api/v1/planning/runs", {"scenario": {"name": "x", "days": 1e9}}, "days"),
            ("POST", "/api/v1/incidents/1/responders", {"lat": 60.2, "lon": 24.9, "ambulance_eta_s": 1e300},
             "ambulance_eta_s"),
        ):
            res = client.request(method, url, json=body, headers=auth)
            assert res.status_code == 422, (url, res.text)
            assert field in res.text, (url, res.text)
        for url in (f"/api/v1/incidents/{INT32_MAX}", f"/api/v1/units/{INT32_MAX}",
                    f"/api/v1/incidents/{INT32_MAX}/timeline"):
            assert client.get(url, headers=auth).status_code == 404, url
    headers = (str(INT64_MAX), str(event), "12", "x", None)
    assert [_parse_id(raw) for raw in headers] == [INT64_MAX, None, 12, None, None]


def test_text_with_a_nul_character_is_refused_naming_the_field_and_nothing_is_stored(settings: Settings) -> None:
    """A NUL in a JSON string (nested too), a JSON key or a query value is a 422 naming where it is, on both databases,
    and the user is not created; an escaped backslash before "u0000" is ordinary text and is kept as sent."""
    user = {"username": "ann", "password": "long enough", "roles": ["dispatcher"]}
    with TestClient(create_app(settings)) as client:
        add_user(client.app, "boss", Role.ADMIN)  # type: ignore[arg-type]
        auth = bearer(client, "boss")
        res = client.post("/api/v1/auth/users", headers=auth, json={**user, "display_name": "Ann\x00"})
        assert res.status_code == 422, res.text
        assert res.json()["errors"] == [{"field": "body.display_name", "message": _NUL, "type": "string_nul"}]
        res = client.post("/api/v1/auth/users", headers=auth, json={**user, "display_name": "Ann", "x\x00": 1})
        assert [e["field"] for e in res.json()["errors"]] == ["body.x\x00"]
        res = client.post("/api/v1/auth/users", headers=auth, json={**user, "display_name": "Ann", "roles": ["a\x00"]})
        assert [e["field"] for e in res.json()["errors"]] == ["body.roles.0"]
        assert "ann" not in [u["username"] for u in client.get("/api/v1/auth/users", headers=auth).json()]
        res = client.get("/api/v1/aeds", headers=auth, params={"city": "helsinki\x00"})
        assert res.status_code == 422 and res.json()["errors"][0]["field"] == "query.city", res.text
        literal = "C:\\u0000 (a path, not a NUL)"
        res = client.post("/api/v1/auth/users", headers=auth, json={**user, "display_name": literal})
        assert res.status_code == 201, res.text
        assert res.json()["display_name"] == literal
