"""Every operation of the API, called with inputs generated from its own OpenAPI document (schemathesis), never
answers 5xx and always answers what the document says: a documented status code and content type, and a body that
matches the documented schema (error bodies included).

Signed in as a user with every role (bound to a registered volunteer), on the demo city with its demo data and a few
calls taken, so that list and search operations have rows to return. Generated ids would almost all answer 404, so in
about half the examples each path id is one that exists (a call, a unit, a hospital, a volunteer, an attachment, a
planning run, the city): the generated bodies then reach the domain's rules. A failure prints the request to reproduce
it. Inputs the schema allows but the domain refuses (an unknown complaint, NUL characters, a diversion in the past) are
4xx by design and not failures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

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
    admin = signed_in(client, "registrar", Role.ADMIN)
    res = client.post("/api/v1/volunteers", headers=admin, json={
        "city": "helsinki", "name": "fuzzer", "qualifications": [
            {"kind": "cpr", "issued": "2026-01-01", "expires": "2027-12-31"}]})
    assert res.status_code == 201, res.text
    headers = signed_in(client, "fuzzer", *Role, volunteer_id=res.json()["id"])
    known = _known_ids(client, headers)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    calls: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label not in STREAMS:
            _fuzz(operation, headers, known, failures, calls, statuses)
    assert failures == [], "\n\n".join(failures)
    assert len(calls) > 60 and sum(calls.values()) > 5 * len(calls), calls  # it did call them
    # With existing ids, requests to the operations with ids in their path get past the lookups (18% succeed); with
    # generated ids alone, 91% of them answered 404 and 1 of 420 succeeded.
    assert sum(n for code, n in statuses.items() if code < 300) > 0.1 * sum(statuses.values()), statuses


def _known_ids(client: TestClient, headers: dict[str, str]) -> dict[str, list[Any]]:
    """Ids that exist, for each path parameter: three calls taken with an attachment, the demo's units and
    hospitals, the fuzzer's own volunteer record and a queued planning run."""
    incidents = []
    for k in range(3):
        res = client.post("/api/v1/incidents", headers=headers,
                          json={"city": "helsinki", "location": {"lat": 60.17 + k / 500, "lon": 24.94},
                                "complaint": "chest_pain"})
        assert res.status_code == 201, res.text
        incidents.append(res.json()["id"])
    res = client.post(f"/api/v1/incidents/{incidents[0]}/attachments", headers=headers,
                      files={"file": ("ecg.png", _PNG, "image/png")}, data={"kind": "prehospital_ecg"})
    assert res.status_code == 201, res.text
    attachment = res.json()["id"]
    res = client.post("/api/v1/planning/runs", headers=headers, json={"scenario": {
        "name": "fuzz", "seed": 1, "days": 0.01, "stations": [{"id": 1, "lat": 60.17, "lon": 24.94}],
        "units": [{"id": 1, "station": 1}], "demand": [{"lat": 60.17, "lon": 24.95, "weight": 1}],
        "hospitals": [{"id": 1, "lat": 60.18, "lon": 24.92}], "calls": {"rate_per_day": 10}}})
    assert res.status_code == 202, res.text
    me = client.get("/api/v1/volunteers/me", headers=headers).json()
    known: dict[str, list[Any]] = {
        "incident_id": incidents, "attachment_id": [attachment], "run_id": [res.json()["id"]],
        "unit_id": [u["id"] for u in client.get("/api/v1/units", headers=headers).json()][:5],
        "hospital_id": [h["id"] for h in client.get("/api/v1/hospitals", headers=headers).json()],
        "volunteer_id": [me["id"]], "city": ["helsinki"]}
    assert all(known.values()), known
    return known


# The smallest valid PNG: a 1 x 1 transparent pixel.
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                     "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _fuzz(operation: Any, headers: dict[str, str], known: dict[str, list[Any]], failures: list[str],
          calls: dict[str, int], statuses: dict[int, int]) -> None:
    """Call one operation with generated inputs, in about half the examples with existing ids in its path; a failed
    check is added to `failures` (the first one only)."""
    label = operation.label
    names = [name for name in known if "{" + name + "}" in operation.path]

    @given(case=operation.as_strategy(), data=st.data())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck),
                         phases=[Phase.explicit, Phase.generate])  # no shrinking: the first is shown
    def call(case: Any, data: st.DataObject) -> None:
        case.headers = {**(case.headers or {}), **headers}
        existing = {name: data.draw(st.sampled_from(known[name])) for name in names if data.draw(st.booleans())}
        if existing:
            case.path_parameters = {**(case.path_parameters or {}), **existing}
        response = case.call()
        calls[label] = calls.get(label, 0) + 1
        if names:
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
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
