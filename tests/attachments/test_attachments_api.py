"""Attaching the pre-hospital ECG over the API: stored under the data dir, on the timeline, roles enforced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from auth_helpers import signed_in
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.db import transaction
from lifechain.settings import Settings
from lifechain.timeline import flows
from lifechain.timeline.core import EventKind, TimelineEvent

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.fixture
def client(settings: Settings) -> TestClient:
    client = TestClient(create_app(settings, clock=ManualClock(T0)))
    # This domain alone: which incidents a crew may reach is dispatch's rule (its guard is tested in
    # tests/dispatch/test_api.py), so here the incident exists only as timeline events and is open to all.
    client.app.state.incident_guard = None  # type: ignore[attr-defined]
    with transaction(client.app.state.sessionmaker) as s:  # type: ignore[attr-defined]
        flows.record(session=s, event=TimelineEvent(EventKind.PSAP_CALL, T0, incident_id=7, actor="system"), now=T0)
    return client


def test_crew_attaches_an_ecg_pdf_and_the_dispatcher_downloads_it(client: TestClient, settings: Settings) -> None:
    """The crew's PDF is stored under the data dir, listed, downloadable byte for byte and on the timeline."""
    crew = signed_in(client, "crew1", Role.CREW, unit_id=3)
    res = client.post("/api/v1/incidents/7/attachments", headers=crew,
                      files={"file": ("12-lead.pdf", PDF, "application/pdf")},
                      data={"kind": "prehospital_ecg", "unit_id": "3"})
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["content_type"] == "application/pdf" and body["size"] == len(PDF) and body["unit_id"] == 3
    assert list((settings.data_dir / "attachments" / "7").iterdir())
    disp = signed_in(client, "disp1", Role.DISPATCHER)
    listed = client.get("/api/v1/incidents/7/attachments", headers=disp).json()
    assert [a["filename"] for a in listed] == ["12-lead.pdf"]
    download = client.get(body["url"], headers=disp)
    assert download.status_code == 200 and download.content == PDF
    kinds = [e["kind"] for e in client.get("/api/v1/incidents/7/timeline", headers=disp).json()["effective"]]
    assert "prehospital_ecg" in kinds and "attachment_added" in kinds


def test_not_a_pdf_or_image_is_a_422(client: TestClient) -> None:
    """A text file is refused with a message naming the accepted formats."""
    crew = signed_in(client, "crew1", Role.CREW, unit_id=3)
    res = client.post("/api/v1/incidents/7/attachments", headers=crew,
                      files={"file": ("ecg.pdf", b"not really a pdf", "application/pdf")})
    assert res.status_code == 422
    assert "only PDF" in res.json()["detail"]


def test_unknown_incident_is_a_404(client: TestClient) -> None:
    """A file for an incident that does not exist is refused."""
    crew = signed_in(client, "crew1", Role.CREW, unit_id=3)
    res = client.post("/api/v1/incidents/999/attachments", headers=crew, files={"file": ("e.pdf", PDF)})
    assert res.status_code == 404


def test_volunteers_cannot_attach_or_read(client: TestClient) -> None:
    """A volunteer may neither upload nor list an incident's medical files."""
    vol = signed_in(client, "vol1", Role.VOLUNTEER, volunteer_id=1)
    upload = client.post("/api/v1/incidents/7/attachments", headers=vol, files={"file": ("e.pdf", PDF)})
    assert upload.status_code == 403
    assert client.get("/api/v1/incidents/7/attachments", headers=vol).status_code == 403
