"""Every operation of the API, called with inputs generated from its own OpenAPI document (schemathesis), never
answers 5xx and always answers what the document says: a documented status code and content type, and a body that
matches the documented schema (error bodies included).

Signed in as a user with every role, on the demo city with its demo data and a few calls taken, so that list and
search operations have rows to return. A failure prints the request to reproduce it. Inputs the schema allows but the
domain refuses (an unknown complaint, NUL characters, a diversion in the past) are 4xx by design and not failures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from auth_helpers import signed_in
from lifechain import db
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.db import transaction
from lifechain.dispatch import demo
from lifechain.geo.repo import CityStore
from lifechain.settings import Settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import positive_data_acceptance  # noqa: E402

EXAMPLES = 12  # per operation; derandomized, so every run sends the same requests
# Server-sent event streams stay open until the client leaves (seconds each): tests/timeline/test_stream.py and
# tests/volunteers cover them.
STREAMS = {"GET /api/v1/stream", "GET /api/v1/volunteers/me/stream"}


@pytest.fixture
def app_with_demo(tmp_path: Path, helsinki_cities_dir: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    db.upgrade(url)
    settings = Settings(data_dir=tmp_path / "var", database_url=url, demo_mode=True)
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "cities").symlink_to(helsinki_cities_dir, target_is_directory=True)
    app = create_app(settings, clock=ManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)))
    with transaction(app.state.sessionmaker) as session:
        demo.load(session=session, city="helsinki", places=CityStore(settings.cities_dir).places("helsinki"),
                  now=datetime(2026, 3, 1, 9, tzinfo=UTC))
    yield app
    app.state.engine.dispose()


def test_every_operation_answers_as_documented_to_generated_input(app_with_demo: Any) -> None:
    app = app_with_demo
    # Not entered: schemathesis runs the app's lifespan around each call itself, and two at once would clash.
    client = TestClient(app)
    headers = signed_in(client, "fuzzer", *Role)
    for k in range(3):
        res = client.post("/api/v1/incidents", headers=headers,
                          json={"city": "helsinki", "location": {"lat": 60.17 + k / 500, "lon": 24.94},
                                "complaint": "chest_pain"})
        assert res.status_code == 201, res.text
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label not in STREAMS:
            _fuzz(operation, headers, failures, calls)
    assert failures == [], "\n\n".join(failures)
    assert len(calls) > 60 and sum(calls.values()) > 5 * len(calls), calls  # it did call them


def _fuzz(operation: Any, headers: dict[str, str], failures: list[str], calls: dict[str, int]) -> None:
    """Call one operation with generated inputs; a failed check is added to `failures` (the first one only)."""
    label = operation.label

    @given(case=operation.as_strategy())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck),
                         phases=[Phase.explicit, Phase.generate])  # no shrinking: the first is shown
    def call(case: Any) -> None:
        case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        calls[label] = calls.get(label, 0) + 1
        try:
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
        except BaseException as exc:  # schemathesis's failure group (a BaseExceptionGroup), with the request
            failures.append(f"{label}: {_text(exc)}"[:3000])
            raise

    try:
        call()
    except BaseException:
        if not failures or not failures[-1].startswith(label + ":"):
            raise  # not a finding of the checks: the test itself is broken


def _text(exc: BaseException) -> str:
    """The message of an exception and of every exception it groups."""
    inner = getattr(exc, "exceptions", ())
    return "\n".join([str(exc), *(_text(e) for e in inner)])


def test_the_checks_catch_an_undocumented_answer(app_with_demo: Any) -> None:
    """The checks above do fail: an operation whose answer leaves its documented schema is reported."""
    app = app_with_demo
    with TestClient(app) as client:
        headers = signed_in(client, "fuzzer", *Role)
        spec = app.openapi()
        # Document the health answer as an integer: the real answer, an object, must then be reported.
        spec["paths"]["/api/v1/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
            "type": "integer"}
        case = schemathesis.openapi.from_dict(spec)["/api/v1/health"]["GET"].Case()
        response = client.get("/api/v1/health", headers=headers)
        with pytest.raises(BaseException) as info:
            case.validate_response(response, excluded_checks=[positive_data_acceptance])
        assert 'is not of type "integer"' in _text(info.value)
