"""The volunteers API end to end: registry, alerting, responder actions on the timeline, stand-down, privacy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from auth_helpers import signed_in
from lifechain.app import create_app
from lifechain.auth.core import Role
from lifechain.clock import ManualClock
from lifechain.db import transaction
from lifechain.fleet import flows as fleet_flows
from lifechain.geo.core import M_PER_DEG, LatLon
from lifechain.geo.repo import CityStore
from lifechain.settings import Settings
from lifechain.volunteers import flows, views

from .fakes import StraightLineRouter

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
PATIENT = {"lat": 60.1699, "lon": 24.9384}
CERT = [{"kind": "cpr", "issued": "2025-01-01", "expires": "2027-12-31"}]


def north(metres: float) -> dict[str, float]:
    """A point `metres` due north of the patient."""
    return {"lat": PATIENT["lat"] + metres / M_PER_DEG, "lon": PATIENT["lon"]}


class Ctx:
    """A running app with an admin, a dispatcher and a manual clock."""

    def __init__(self, client: TestClient, clock: ManualClock) -> None:
        self.client, self.clock = client, clock
        self.admin = signed_in(client, "admin", Role.ADMIN)
        self.dispatcher = signed_in(client, "disp", Role.DISPATCHER)

    def volunteer(self, name: str, metres: float, *, certs: list[dict[str, str]] = CERT) -> tuple[int, dict[str, str]]:
        """Register a volunteer, sign them in, put them on duty `metres` north of the patient."""
        res = self.client.post("/api/v1/volunteers", headers=self.admin,
                               json={"city": "fake", "name": name, "phone": "+358401234567", "qualifications": certs})
        assert res.status_code == 201, res.text
        vid = res.json()["id"]
        headers = signed_in(self.client, name, Role.VOLUNTEER, volunteer_id=vid)
        assert self.client.put("/api/v1/volunteers/me/duty", headers=headers, json={"on_duty": True}).status_code == 200
        assert self.client.put("/api/v1/volunteers/me/location", headers=headers, json=north(metres)).status_code == 200
        return vid, headers

    def incident(self, incident_id: int) -> None:
        """Make sure incident `incident_id` exists (ids count from 1 in a fresh database): calls are taken (falls,
        which alert no volunteer) until it does."""
        while self.client.get(f"/api/v1/incidents/{incident_id}", headers=self.dispatcher).status_code == 404:
            res = self.client.post("/api/v1/incidents", headers=self.dispatcher,
                                   json={"city": "fake", "location": PATIENT, "complaint": "falls",
                                         "answers": {"fall_height_m": 1}})
            assert res.status_code == 201 and res.json()["id"] <= incident_id, res.text

    def alert(self, incident_id: int = 1, **extra: object) -> dict[str, object]:
        """The dispatcher alerts responders for a cardiac arrest at the patient (of incident `incident_id`)."""
        self.incident(incident_id)
        body = {"city": "fake", **PATIENT, "nature": "cardiac_arrest", "address": "Aleksanterinkatu 52",
                "ambulance_eta_s": 600, **extra}
        res = self.client.post(f"/api/v1/incidents/{incident_id}/responders", headers=self.dispatcher, json=body)
        assert res.status_code == 201, res.text
        return res.json()  # type: ignore[no-any-return]

    def act(self, headers: dict[str, str], action: str, incident_id: int = 1) -> int:
        """A volunteer reports `action`; returns the status code."""
        return self.client.post(f"/api/v1/volunteers/me/alerts/{incident_id}/actions", headers=headers,
                                json={"action": action}).status_code


@pytest.fixture
def ctx(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctx]:
    """An app on a fresh database whose walking router is the straight line at 1.8 m/s, in a city "fake" that
    counts as imported (volunteers, facilities and AEDs are registered only in an imported city)."""
    clock = ManualClock(T0)
    app = create_app(settings, clock=clock)
    app.state.volunteer_router_for = lambda city: StraightLineRouter(speed=1.8)
    imported = app.state.cities.exists
    monkeypatch.setattr(app.state.cities, "exists", lambda city: city == "fake" or imported(city))
    with TestClient(app) as client:
        yield Ctx(client, clock)


def _timeline(ctx: Ctx, incident_id: int = 1) -> list[dict[str, object]]:
    res = ctx.client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=ctx.dispatcher)
    assert res.status_code == 200, res.text
    return res.json()["effective"]  # type: ignore[no-any-return]


def test_full_response_is_on_the_timeline_and_ems_stands_everyone_down(ctx: Ctx) -> None:
    """Alert, accept, arrive, CPR, shock: each a timeline event with actor; EMS on scene stands down by itself."""
    anna, anna_h = ctx.volunteer("anna", 50)
    ben, _ = ctx.volunteer("ben", 120)
    plan = ctx.alert()
    assert {r["responder_id"] for r in plan["responders"]} == {anna, ben}  # type: ignore[index]
    ctx.clock.advance(20)
    assert ctx.act(anna_h, "accept") == 200
    ctx.clock.advance(60)
    for action in ("arrived", "cpr_started", "aed_attached", "shock_delivered"):
        assert ctx.act(anna_h, action) == 200
    seen = ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()
    by_id = {r["responder_id"]: r for r in seen["responders"]}
    assert by_id[anna]["state"] == "arrived" and by_id[anna]["accepted_role"] == "cpr"
    assert by_id[anna]["name"] == "anna" and by_id[ben]["state"] == "alerted" and by_id[ben]["eta_s"] > 0
    ctx.client.post("/api/v1/incidents/1/timeline", headers=ctx.dispatcher, json={"kind": "unit_on_scene"})
    kinds = [(e["kind"], e["actor"]) for e in _timeline(ctx)]
    assert ("responder_accepted", "user:anna") in kinds
    assert ("responder_shock_delivered", "user:anna") in kinds
    assert [k for k, _ in kinds].count("responder_alerted") == 2
    assert kinds[-1][0] == "responders_stood_down"
    after = ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()
    assert not after["active"] and after["stand_down_reason"] == "ems_on_scene"
    assert {r["state"] for r in after["responders"]} == {"stood_down"}


def test_volunteer_sees_place_nature_route_never_caller_or_medical_detail(ctx: Ctx) -> None:
    """A volunteer's alert carries location, "cardiac arrest", role and route; no caller number, name or notes."""
    _, anna_h = ctx.volunteer("anna", 50)
    ctx.alert()
    # What the dispatch side knows about the call (caller, patient, notes) must never reach a volunteer.
    secrets = ("+358501112233", "Matti Meikäläinen", "diabetic")
    note = {"caller": secrets[0], "patient": secrets[1], "notes": secrets[2]}
    ctx.client.post("/api/v1/incidents/1/timeline", headers=ctx.dispatcher, json={"kind": "note", "payload": note})
    res = ctx.client.get("/api/v1/volunteers/me/alerts/1", headers=anna_h)
    assert res.status_code == 200
    body = res.json()
    assert body["nature_label"] == "Cardiac arrest" and body["location"] == PATIENT
    assert body["address"] == "Aleksanterinkatu 52" and len(body["route"]) >= 2
    listing = ctx.client.get("/api/v1/volunteers/me/alerts", headers=anna_h)
    for text in (res.text, listing.text):
        assert not any(s in text for s in secrets)
    assert set(body) == {"incident_id", "nature", "nature_label", "location", "address", "role", "state", "eta_s",
                         "aed", "route"}
    assert ctx.client.get("/api/v1/incidents/1/timeline", headers=anna_h).status_code == 403
    assert ctx.client.get("/api/v1/incidents/1/responders", headers=anna_h).status_code == 403


def test_access_ends_at_stand_down(ctx: Ctx) -> None:
    """After stand-down the volunteer's alert answers 403 and no longer appears in their list."""
    _, anna_h = ctx.volunteer("anna", 50)
    ctx.alert()
    assert ctx.act(anna_h, "accept") == 200
    res = ctx.client.post("/api/v1/incidents/1/responders/stand-down", headers=ctx.dispatcher,
                          json={"reason": "cancelled"})
    assert res.status_code == 200
    assert ctx.client.get("/api/v1/volunteers/me/alerts/1", headers=anna_h).status_code == 403
    assert ctx.client.get("/api/v1/volunteers/me/alerts", headers=anna_h).json() == []
    assert ctx.act(anna_h, "arrived") == 403
    assert ctx.client.get("/api/v1/volunteers/me/alerts/2", headers=anna_h).status_code == 404


def test_positions_only_while_on_duty_and_forgotten_off_duty(ctx: Ctx) -> None:
    """Location is refused off duty (409) and going off duty forgets the stored position."""
    _, anna_h = ctx.volunteer("anna", 50)
    off = ctx.client.put("/api/v1/volunteers/me/duty", headers=anna_h, json={"on_duty": False}).json()
    assert off["position"] is None
    res = ctx.client.put("/api/v1/volunteers/me/location", headers=anna_h, json=north(10))
    assert res.status_code == 409 and "on duty" in res.json()["detail"]
    assert ctx.client.put("/api/v1/volunteers/me/location", headers=anna_h,
                          json={"lat": 95, "lon": 0}).status_code == 422


def test_silent_device_and_expired_certificate_are_not_alerted(ctx: Ctx) -> None:
    """A device silent past the heartbeat timeout, or an expired certificate, means no alert."""
    expired = [{"kind": "cpr", "issued": "2020-01-01", "expires": "2022-01-01"}]
    old, _ = ctx.volunteer("old", 40, certs=expired)
    quiet, _ = ctx.volunteer("quiet", 60)
    ctx.clock.advance(301)
    fresh, fresh_h = ctx.volunteer("fresh", 80)
    ctx.client.post("/api/v1/volunteers/me/heartbeat", headers=fresh_h)
    plan = ctx.alert()
    assert {r["responder_id"] for r in plan["responders"]} == {fresh}  # type: ignore[index]
    assert old != quiet


def test_refusal_is_replaced_and_silence_widens(ctx: Ctx, tmp_path: Path) -> None:
    """With phases of 1, a refusal brings the next nearest at once and the ticker widens after 60 s of silence."""
    policy_dir = ctx.client.app.state.settings.data_dir / "volunteers"  # type: ignore[attr-defined]
    policy_dir.mkdir(parents=True, exist_ok=True)
    (policy_dir / "fake.yaml").write_text("first_phase_size: 1\nphase_size: 1\n")
    people = [ctx.volunteer(f"v{i}", 30 * i) for i in range(1, 5)]
    ctx.alert()
    ids = lambda: [r["responder_id"] for r in  # noqa: E731
                   ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()["responders"]]
    assert ids() == [people[0][0]]
    assert ctx.act(people[0][1], "decline") == 200
    assert ids() == [people[0][0], people[1][0]]
    ctx.clock.advance(30)
    assert views.tick(ctx.client.app) == 0  # type: ignore[arg-type]
    ctx.clock.advance(31)
    for _, h in people:  # devices keep answering
        ctx.client.post("/api/v1/volunteers/me/heartbeat", headers=h)
    assert views.tick(ctx.client.app) == 1  # type: ignore[arg-type]
    assert ids() == [p[0] for p in people[:3]]


def test_cap_tells_extra_responders_they_are_not_needed(ctx: Ctx) -> None:
    """The fourth to accept is told not needed; once three accepted the rest are released."""
    people = [ctx.volunteer(f"v{i}", 20 * i) for i in range(1, 6)]
    ctx.alert()
    for _, h in people[:3]:
        assert ctx.act(h, "accept") == 200
    states = {r["responder_id"]: r["state"]
              for r in ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()["responders"]}
    assert [states[p[0]] for p in people] == ["accepted"] * 3 + ["not_needed"] * 2
    assert ctx.client.get("/api/v1/volunteers/me/alerts/1", headers=people[4][1]).status_code == 403
    kinds = [e["kind"] for e in _timeline(ctx)]
    assert kinds.count("responder_not_needed") == 2


def test_exclusion_blocks_alerts_and_bad_requests_say_why(ctx: Ctx) -> None:
    """An unsafe scene alerts nobody; an unknown nature or exclusion is a 422 naming it."""
    ctx.volunteer("anna", 50)
    blocked = ctx.alert(exclusions=["unsafe_scene"])
    assert blocked["responders"] == [] and blocked["blocked_by"] == ["unsafe_scene"]
    ctx.incident(3)
    res = ctx.client.post("/api/v1/incidents/2/responders", headers=ctx.dispatcher,
                          json={"city": "fake", **PATIENT, "nature": "stroke"})
    assert res.status_code == 422 and "stroke" in res.json()["detail"]
    res = ctx.client.post("/api/v1/incidents/3/responders", headers=ctx.dispatcher,
                          json={"city": "fake", **PATIENT, "exclusions": ["dog"]})
    assert res.status_code == 422 and "dog" in res.json()["detail"]
    assert ctx.client.post("/api/v1/incidents/1/responders", headers=ctx.dispatcher,
                           json={"city": "fake", **PATIENT}).status_code == 409
    # A call that was never taken: nobody is alerted for it, nothing is recorded.
    unknown = ctx.client.post("/api/v1/incidents/99/responders", headers=ctx.dispatcher,
                              json={"city": "fake", **PATIENT})
    assert unknown.status_code == 404 and "no incident 99" in unknown.json()["detail"]
    assert ctx.client.get("/api/v1/incidents/99/responders", headers=ctx.dispatcher).status_code == 404
    assert ctx.client.post("/api/v1/incidents/99/timeline", headers=ctx.dispatcher,
                           json={"kind": "note", "payload": {"text": "x"}}).status_code == 404


def test_aed_fetcher_gets_the_aed_and_its_indoor_description(ctx: Ctx) -> None:
    """With an open AED nearby, one responder is routed through it and sees where it hangs."""
    ctx.volunteer("near", 20)
    _, far_h = ctx.volunteer("far", 170)
    res = ctx.client.post("/api/v1/aeds", headers=ctx.admin,
                          json={"city": "fake", **north(150), "indoor": "Lobby, ground floor, by the lifts"})
    assert res.status_code == 201 and res.json()["accessible_now"]
    ctx.alert()
    mine = ctx.client.get("/api/v1/volunteers/me/alerts/1", headers=far_h).json()
    assert mine["role"] == "aed" and mine["aed"]["indoor"].startswith("Lobby")


def test_aed_csv_round_trip_and_bad_line(ctx: Ctx) -> None:
    """AEDs imported from CSV export again with the same fields; a bad line is refused with its number."""
    csv_in = ("lat,lon,indoor,opening_hours,status,external_ref\n"
              "60.17,24.94,Station hall,Mo-Fr 07:00-21:00,ready,A1\n60.18,24.95,,24/7,needs_service,A2\n")
    res = ctx.client.post("/api/v1/aeds/import?city=fake&timezone=Europe/Helsinki", headers=ctx.admin,
                          content=csv_in)
    assert res.status_code == 200 and res.json() == {"imported": 2}, res.text
    out = ctx.client.get("/api/v1/aeds.csv?city=fake", headers=ctx.dispatcher).text
    assert "Station hall,Mo-Fr 07:00-21:00," in out and "needs_service" in out
    assert "Europe/Helsinki" in out
    again = ctx.client.post("/api/v1/aeds/import?city=fake", headers=ctx.admin, content=out)
    assert again.json() == {"imported": 2}
    assert len(ctx.client.get("/api/v1/aeds?city=fake", headers=ctx.dispatcher).json()) == 2
    bad = ctx.client.post("/api/v1/aeds/import?city=fake", headers=ctx.admin, content="lat,lon\n60.1,24.9\nx,1\n")
    assert bad.status_code == 422 and "line 3" in bad.json()["detail"]
    nul = ctx.client.post("/api/v1/aeds/import?city=fake", headers=ctx.admin,
                          content="lat,lon,indoor\n60.1,24.9,a\x00b\n")
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"], nul.text
    # A field beyond the csv module's limit (131,072 characters) made the reader raise: a 500. The lines before it
    # are not kept either.
    huge = ctx.client.post("/api/v1/aeds/import?city=fake", headers=ctx.admin,
                           content="lat,lon,indoor\n60.3,24.9,a\n60.1,24.9," + "x" * 200_000 + "\n")
    assert huge.status_code == 422 and "line 3: not readable as CSV" in huge.json()["detail"], huge.text
    assert len(ctx.client.get("/api/v1/aeds?city=fake", headers=ctx.dispatcher).json()) == 2
    # Lines ended by a lone CR (classic Mac, some spreadsheet exports) failed the read ("new-line character seen
    # in unquoted field"); they are lines like any other.
    cr = ctx.client.post("/api/v1/aeds/import?city=fake", headers=ctx.admin,
                         content="lat,lon,external_ref\r60.2,24.9,C1\r60.21,24.91,C2\r")
    assert cr.status_code == 200 and cr.json() == {"imported": 2}, cr.text
    assert len(ctx.client.get("/api/v1/aeds?city=fake", headers=ctx.dispatcher).json()) == 4


def test_osm_defibrillators_are_imported(settings: Settings, tmp_path: Path) -> None:
    """`emergency=defibrillator` nodes become AEDs with their indoor text and hours, refreshed on re-import."""
    osm = tmp_path / "city.osm"
    osm.write_text("""<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="11" lat="60.17" lon="24.94"><tag k="emergency" v="defibrillator"/>
  <tag k="defibrillator:location" v="By the entrance"/><tag k="level" v="1"/>
  <tag k="opening_hours" v="Mo-Fr 08:00-16:00"/></node>
 <node id="12" lat="60.18" lon="24.95"><tag k="emergency" v="phone"/></node>
</osm>""")
    app = create_app(settings)
    with transaction(app.state.sessionmaker) as s:
        assert flows.import_aeds_osm(session=s, city="fake", path=osm, timezone="Europe/Helsinki") == (1, [])
        assert flows.import_aeds_osm(session=s, city="fake", path=osm, timezone="Europe/Helsinki") == (1, [])
        rows = flows.repo.list_aeds(session=s, city="fake")
    assert len(rows) == 1 and rows[0].external_ref == "node/11"
    assert rows[0].indoor == "By the entrance; level 1" and rows[0].opening_hours == "Mo-Fr 08:00-16:00"


SEA = {"lat": 60.10, "lon": 24.94}  # 7 km out at sea off Helsinki
STREET = {"lat": 60.1699, "lon": 24.9384}
SWAPPED = {"lat": 24.94, "lon": 60.17}


def _off_walk(place: dict[str, float]) -> str:
    return (f"the AED ({place['lat']:.6f}, {place['lon']:.6f}) is more than 1000 m from the walk network of "
            "helsinki, so no route to or from it can be timed; check the coordinates (latitude first)")


def test_an_aed_or_facility_off_the_walking_network_is_refused(settings: Settings, helsinki_cities_dir: Path,
                                                               tmp_path: Path) -> None:
    """An AED or a facility in the sea (latitude and longitude swapped, a typo) was stored (201), then never offered
    to a volunteer: alerts fetch AEDs and send staff on foot over the walking network. Each is now a 422 naming
    `lat`, and nothing is stored; an AED CSV with such a line is refused with its number and imports nothing (API
    and command line); the OSM import leaves such nodes out and lists them."""
    app = create_app(settings)
    app.state.cities = CityStore(helsinki_cities_dir)
    with TestClient(app) as client:
        admin = signed_in(client, "admin", Role.ADMIN)
        for where in (SWAPPED, SEA):
            res = client.post("/api/v1/aeds", headers=admin, json={"city": "helsinki", **where})
            assert res.status_code == 422, res.text
            assert res.json()["context"]["field"] == "lat" and res.json()["detail"] == f"lat: {_off_walk(where)}"
            res = client.post("/api/v1/volunteers/facilities", headers=admin,
                              json={"city": "helsinki", "name": "Clinic", "kind": "school_clinic", **where})
            assert res.status_code == 422, res.text
            assert res.json()["detail"] == f"lat: {_off_walk(where).replace('AED', 'facility')}"
        csv = f"lat,lon,external_ref\n{STREET['lat']},{STREET['lon']},A\n{SEA['lat']},{SEA['lon']},B\n"
        res = client.post("/api/v1/aeds/import?city=helsinki", headers=admin, content=csv)
        assert res.status_code == 422 and res.json()["detail"] == f"line 3: {_off_walk(SEA)}", res.text
        assert client.get("/api/v1/aeds?city=helsinki", headers=admin).json() == []
        assert client.get("/api/v1/volunteers/facilities?city=helsinki", headers=admin).json() == []
        long = client.post("/api/v1/aeds", headers=admin, json={"city": "helsinki", **STREET, "indoor": "x" * 2001})
        assert long.status_code == 422 and long.json()["errors"][0]["field"] == "body.indoor", long.text  # was stored
        assert client.post("/api/v1/aeds", headers=admin, json={"city": "helsinki", **STREET}).status_code == 201
        res = client.post("/api/v1/volunteers/facilities", headers=admin,
                          json={"city": "helsinki", "name": "Clinic", "kind": "school_clinic", **STREET})
        assert res.status_code == 201, res.text
    cli = tmp_path / "cli"  # a data folder (and database) of its own
    cli.mkdir()
    (cli / "cities").symlink_to(helsinki_cities_dir, target_is_directory=True)
    env = {**os.environ, "LIFECHAIN_DATA_DIR": str(cli), "LIFECHAIN_DEMO_MODE": "1"}
    osm = tmp_path / "aeds.osm"
    osm.write_text(f"""<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="21" lat="{STREET['lat']}" lon="{STREET['lon']}"><tag k="emergency" v="defibrillator"/></node>
 <node id="22" lat="{SEA['lat']}" lon="{SEA['lon']}"><tag k="emergency" v="defibrillator"/></node>
 <node id="23" lat="{SWAPPED['lat']}" lon="{SWAPPED['lon']}"><tag k="emergency" v="defibrillator"/></node>
</osm>""")
    sea_csv = tmp_path / "aeds.csv"
    sea_csv.write_text(csv)

    def import_aeds(*source: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lifechain", "volunteers", "import-aeds", "--city", "helsinki",
                               *source], env=env, capture_output=True, text=True, timeout=120)

    refused = import_aeds("--csv", str(sea_csv))
    assert refused.returncode == 2 and refused.stderr.startswith(f"error: line 3: {_off_walk(SEA)}"), refused.stderr
    run = import_aeds("--osm", str(osm))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["1 AEDs imported for helsinki", "2 left out, farther from the walking network "
                                       "than 1000 m (no volunteer could fetch them): node/22, node/23"]
    exported = subprocess.run([sys.executable, "-m", "lifechain", "volunteers", "export-aeds", "--city", "helsinki"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert [line.split(",")[-1] for line in exported.stdout.splitlines()] == ["external_ref", "node/21"]


def test_unreadable_aed_files_end_the_command_with_the_reason(tmp_path: Path, helsinki_cities_dir: Path) -> None:
    """`lifechain volunteers import-aeds` with a broken OSM file, a bad CSV line, a CSV file that is not there or
    not UTF-8 (both were tracebacks), or into a city not imported (they were stored, and never fetched) prints the
    reason (no traceback) and exits 2: the command line's last resort turns any domain error into one line."""
    (tmp_path / "cities").symlink_to(helsinki_cities_dir, target_is_directory=True)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"this is not a PBF file")
    bad_csv = tmp_path / "aeds.csv"
    bad_csv.write_text("lat,lon\n1,x\n")
    env = {**os.environ, "LIFECHAIN_DATA_DIR": str(tmp_path), "LIFECHAIN_DEMO_MODE": "1"}
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("lat,lon,name\n60.17,24.94,Töölö\n".encode("latin-1"))
    good = tmp_path / "good.csv"
    good.write_text("lat,lon\n60.17,24.94\n")
    for source, reason in ((["--osm", str(broken)], f"error: cannot read the OSM file {broken}: PBF error"),
                           (["--csv", str(bad_csv)], "error: line 2: an AED needs numeric lat and lon"),
                           (["--csv", str(tmp_path / "gone.csv")],
                            f"error: cannot read AED file {tmp_path / 'gone.csv'}: No such file or directory"),
                           (["--csv", str(latin1)], f"error: AED file {latin1} is not UTF-8 text"),
                           (["--city", "helsinky", "--csv", str(good)],
                            "error: --city: 'helsinky' is not imported on this server (imported: helsinki; ")):
        run = subprocess.run([sys.executable, "-m", "lifechain", "volunteers", "import-aeds", "--city", "helsinki",
                              *source], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith(reason) and "Traceback" not in run.stderr, run.stderr


def test_measures_from_the_timeline(ctx: Ctx) -> None:
    """Time to first responder, compression and shock, and per-volunteer counts come from the timeline."""
    anna, anna_h = ctx.volunteer("anna", 50)
    ctx.alert()
    ctx.clock.advance(100)
    ctx.act(anna_h, "accept")
    ctx.clock.advance(60)
    ctx.act(anna_h, "cpr_started")
    ctx.clock.advance(120)
    ctx.act(anna_h, "shock_delivered")
    ctx.clock.advance(200)
    ctx.client.post("/api/v1/incidents/1/timeline", headers=ctx.dispatcher, json={"kind": "unit_on_scene"})
    m = ctx.client.get("/api/v1/volunteers/measures", headers=ctx.dispatcher).json()
    assert m["arrests"] == 1 and m["share_volunteer_before_ems"] == 1.0
    assert m["median_first_responder_on_scene_s"] == 160 and m["median_first_compression_s"] == 160
    assert m["median_first_shock_s"] == 280
    assert m["per_responder"][str(anna)] == {"alerted": 1, "accepted": 1, "arrived": 1}
    assert ctx.client.get("/api/v1/volunteers/measures", headers=anna_h).status_code == 403


def test_clinic_is_alerted_only_while_open_and_staffed(ctx: Ctx) -> None:
    """A school clinic open in school hours is alerted at noon with its own ETA, not at night."""
    res = ctx.client.post("/api/v1/volunteers/facilities", headers=ctx.admin,
                          json={"city": "fake", "name": "School clinic", "kind": "school_clinic", **north(100),
                                "opening_hours": "Mo-Fr 08:00-16:00", "timezone": "Europe/Helsinki",
                                "staff_on_duty": 1, "has_aed": True})
    assert res.status_code == 201
    plan = ctx.alert()
    clinic = [r for r in plan["responders"] if r["kind"] == "clinic"]  # type: ignore[union-attr]
    assert len(clinic) == 1 and clinic[0]["role"] == "aed" and clinic[0]["name"] == "School clinic"
    ctx.clock.set(T0 + timedelta(hours=10))  # 00:00 local
    assert ctx.alert(incident_id=2)["responders"] == []


def test_triaged_arrest_alerts_volunteers_and_caller_number_never_reaches_them(ctx: Ctx) -> None:
    """A call triaged as a suspected arrest alerts nearby volunteers by itself; a chest pain call does not."""
    anna, anna_h = ctx.volunteer("anna", 60)
    body = {"city": "fake", "location": PATIENT, "address": "Mannerheimintie 1", "caller_number": "+358 40 999 8877",
            "complaint": "cardiac_arrest", "answers": {"awake": "no", "breathing": "agonal", "witnessed": "no"}}
    inc = ctx.client.post("/api/v1/incidents", headers=ctx.dispatcher, json=body)
    assert inc.status_code in (200, 201), inc.text
    iid = inc.json()["id"]
    seen = ctx.client.get(f"/api/v1/incidents/{iid}/responders", headers=ctx.dispatcher).json()
    assert [r["responder_id"] for r in seen["responders"]] == [anna] and seen["nature"] == "cardiac_arrest"
    mine = ctx.client.get(f"/api/v1/volunteers/me/alerts/{iid}", headers=anna_h)
    assert mine.status_code == 200 and "999 8877" not in mine.text and "agonal" not in mine.text
    chest = {**body, "complaint": "chest_pain", "answers": {"pain_now": "yes", "sweating_or_breathless": "yes"}}
    other = ctx.client.post("/api/v1/incidents", headers=ctx.dispatcher, json=chest).json()["id"]
    assert ctx.client.get(f"/api/v1/incidents/{other}/responders", headers=ctx.dispatcher).status_code == 404


def test_alerts_on_the_real_helsinki_walking_network(settings: Settings, helsinki_cities_dir: Path,
                                                     helsinki_router: object) -> None:
    """On geo's Helsinki router, a volunteer a street away is alerted with a walking ETA and a routed path."""
    clock = ManualClock(T0)
    app = create_app(settings, clock=clock)
    app.state.cities = CityStore(helsinki_cities_dir)
    app.state.volunteer_router_for = lambda city: helsinki_router
    with TestClient(app) as client:
        c = Ctx(client, clock)
        patient = {"lat": 60.1699, "lon": 24.9384}
        res = client.post("/api/v1/volunteers", headers=c.admin,
                          json={"city": "helsinki", "name": "aino", "qualifications": CERT})
        vid = res.json()["id"]
        h = signed_in(client, "aino", Role.VOLUNTEER, volunteer_id=vid)
        client.put("/api/v1/volunteers/me/duty", headers=h, json={"on_duty": True})
        client.put("/api/v1/volunteers/me/location", headers=h, json={"lat": 60.1712, "lon": 24.9410})
        c.incident(5)
        plan = client.post("/api/v1/incidents/5/responders", headers=c.dispatcher,
                           json={"city": "helsinki", **patient, "ambulance_eta_s": 600})
        assert plan.status_code == 201, plan.text
        [alert] = plan.json()["responders"]
        # ~200 m in a straight line: 105 s to set off plus a few minutes' walk at 1.8 m/s, never less than straight
        assert 105 + 200 / 1.8 <= alert["eta_s"] <= 600
        route = client.get("/api/v1/volunteers/me/alerts/5", headers=h).json()["route"]
        assert len(route) > 2  # a real path along the streets, not a straight line


def test_dispatching_a_unit_gives_the_volunteers_an_ambulance_eta(ctx: Ctx) -> None:
    """After triage alerts volunteers, sending an ambulance sets the ETA later phases and AED fetches are judged by."""
    ctx.volunteer("anna", 60)
    with transaction(ctx.client.app.state.sessionmaker) as s:  # type: ignore[attr-defined]
        # "fake" has no roads here, so the API would refuse the station
        station_id = fleet_flows.create_station(session=s, city="fake", name="North",
                                                location=LatLon(north(900)["lat"], north(900)["lon"])).id
    unit = ctx.client.post("/api/v1/units", headers=ctx.admin,
                           json={"call_sign": "A1", "type": "ALS", "station_id": station_id}).json()["id"]
    body = {"city": "fake", "location": PATIENT, "complaint": "cardiac_arrest",
            "answers": {"awake": "no", "breathing": "agonal", "witnessed": "no"}}
    iid = ctx.client.post("/api/v1/incidents", headers=ctx.dispatcher, json=body).json()["id"]
    assert ctx.client.get(f"/api/v1/incidents/{iid}/responders",
                          headers=ctx.dispatcher).json()["ambulance_eta_at"] is None
    ctx.clock.advance(30)
    sent = ctx.client.post(f"/api/v1/incidents/{iid}/dispatch", headers=ctx.dispatcher, json={"unit_id": unit})
    assert sent.status_code == 200, sent.text
    eta = ctx.client.get(f"/api/v1/incidents/{iid}/responders", headers=ctx.dispatcher).json()["ambulance_eta_at"]
    # the fake router: 900 m at 1.8 m/s = 500 s after dispatch
    assert abs((datetime.fromisoformat(eta) - (T0 + timedelta(seconds=30 + 500))).total_seconds()) < 1


class _WalkRecorder(StraightLineRouter):
    """The straight-line router, remembering the mode of every route asked."""

    def __init__(self) -> None:
        super().__init__(speed=1.8)
        self.modes: list[str] = []

    def route(self, origin, destination, *, mode="drive", profile="emergency"):  # type: ignore[no-untyped-def]
        self.modes.append(mode)
        return super().route(origin, destination, mode=mode, profile=profile)


def test_dispatcher_sees_positions_and_walking_routes_and_nothing_after_stand_down(ctx: Ctx) -> None:
    """The dispatcher sees where responders are and the walking route of the one on the way; after stand-down no
    position or route is returned; a volunteer gets 403 and an analyst no positions."""
    walker = _WalkRecorder()
    ctx.client.app.state.volunteer_router_for = lambda city: walker  # type: ignore[attr-defined]
    anna, anna_h = ctx.volunteer("anna", 50)
    ben, _ = ctx.volunteer("ben", 120)
    ctx.alert()
    assert ctx.act(anna_h, "accept") == 200
    walker.modes.clear()
    seen = ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()
    by_id = {r["responder_id"]: r for r in seen["responders"]}
    assert by_id[anna]["position"] == pytest.approx(north(50))
    assert by_id[anna]["route"][0] == pytest.approx([north(50)["lon"], north(50)["lat"]])
    assert by_id[anna]["route"][-1] == pytest.approx([PATIENT["lon"], PATIENT["lat"]])
    assert walker.modes == ["walk"]
    assert by_id[ben]["position"] == pytest.approx(north(120)) and by_id[ben]["route"] == []  # alerted, not on the way
    analyst = signed_in(ctx.client, "ana", Role.ANALYST)
    as_analyst = ctx.client.get("/api/v1/incidents/1/responders", headers=analyst).json()["responders"]
    assert all(r["position"] is None and r["route"] == [] for r in as_analyst)
    assert ctx.client.get("/api/v1/incidents/1/responders", headers=anna_h).status_code == 403
    ctx.client.post("/api/v1/incidents/1/responders/stand-down", headers=ctx.dispatcher, json={"reason": "cancelled"})
    after = ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()["responders"]
    assert after and all(r["position"] is None and r["route"] == [] for r in after)


def test_off_duty_alerted_volunteer_position_is_not_shown(ctx: Ctx) -> None:
    """A volunteer who went off duty before accepting shows no position to the dispatcher; after accepting they do."""
    anna, anna_h = ctx.volunteer("anna", 50)
    ctx.alert()
    ctx.client.put("/api/v1/volunteers/me/duty", headers=anna_h, json={"on_duty": False})
    [row] = ctx.client.get("/api/v1/incidents/1/responders", headers=ctx.dispatcher).json()["responders"]
    assert row["responder_id"] == anna and row["position"] is None


def test_failed_alerting_is_on_the_timeline_and_the_call_is_kept(ctx: Ctx) -> None:
    """When volunteers cannot be alerted (here: the city has no walking network), the call is still taken and
    triaged, and the dispatcher reads on the timeline that no volunteer was alerted, and why."""
    from lifechain.errors import NotFound

    def no_walking(city: str) -> object:
        raise NotFound(f"city {city} has no walking network")

    ctx.client.app.state.volunteer_router_for = no_walking  # type: ignore[attr-defined]
    ctx.volunteer("anna", 60)
    body = {"city": "fake", "location": PATIENT, "address": "Mannerheimintie 1",
            "complaint": "cardiac_arrest", "answers": {"awake": "no", "breathing": "agonal", "witnessed": "no"}}
    inc = ctx.client.post("/api/v1/incidents", headers=ctx.dispatcher, json=body)
    assert inc.status_code in (200, 201), inc.text
    assert inc.json()["priority"] == 1
    events = _timeline(ctx, inc.json()["id"])
    failed = [e for e in events if e["kind"] == "responders_alert_failed"]
    assert len(failed) == 1 and "no walking network" in failed[0]["payload"]["reason"]  # type: ignore[index]
    assert not any(e["kind"] == "responder_alerted" for e in events)
    assert any(e["kind"] == "determinant_set" for e in events)
    # Kept for the system: nobody records this kind by hand.
    forged = ctx.client.post(f"/api/v1/incidents/{inc.json()['id']}/timeline", headers=ctx.dispatcher,
                             json={"kind": "responders_alert_failed"})
    assert forged.status_code == 422 and "recorded by the system" in forged.json()["detail"]


@pytest.mark.parametrize(("text", "said"), [
    (b"first_phase_size: [1\n", "is not valid YAML"),
    (b"- first_phase_size: 1\n", "expected the alert policy's fields as a mapping (e.g. target_s: 240), got a list"),
    (b"first_phase_size: 1 \xff\n", "is not UTF-8 text"),
    (b"first_phase_size: many\n", "alert policy: first_phase_size: Input should be a valid integer"),
])
def test_a_broken_alert_policy_file_is_named_wherever_it_stops_an_alert(ctx: Ctx, text: bytes, said: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A city's alert policy file that is not YAML, not a mapping or not UTF-8 made the dispatcher's alert a 500 and
    put a parser's message without the file on the timeline of an arrest; a wrong value was refused without naming
    the file. Each is now a 422 naming the file, the same reason on the timeline of a triaged arrest (whose call is
    kept), and `lifechain serve` refuses to start with it."""
    from typer.testing import CliRunner

    from lifechain.cli import _register_domains, app

    data_dir = ctx.client.app.state.settings.data_dir  # type: ignore[attr-defined]
    policy = data_dir / "volunteers" / "fake.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_bytes(text)
    ctx.incident(1)
    res = ctx.client.post("/api/v1/incidents/1/responders", headers=ctx.dispatcher,
                          json={"city": "fake", **PATIENT, "nature": "cardiac_arrest", "ambulance_eta_s": 600})
    assert res.status_code == 422, res.text
    assert str(policy) in res.json()["detail"] and said in res.json()["detail"]
    body = {"city": "fake", "location": PATIENT, "address": "Mannerheimintie 1",
            "complaint": "cardiac_arrest", "answers": {"awake": "no", "breathing": "agonal", "witnessed": "no"}}
    inc = ctx.client.post("/api/v1/incidents", headers=ctx.dispatcher, json=body)
    assert inc.status_code in (200, 201), inc.text
    failed = [e for e in _timeline(ctx, inc.json()["id"]) if e["kind"] == "responders_alert_failed"]
    assert len(failed) == 1 and failed[0]["payload"]["reason"] == res.json()["detail"]  # type: ignore[index]
    import uvicorn

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the server started with a broken alert policy file")

    monkeypatch.setattr(uvicorn, "run", started)
    _register_domains()
    out = CliRunner().invoke(app, ["--data-dir", str(data_dir), "serve", "--demo"])
    assert out.exit_code == 2, out.output
    assert out.output.startswith("error: ") and str(policy) in out.output and said in out.output


def test_an_alert_policy_file_broken_while_serving_keeps_the_last_good_policy(
        ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    """A city's policy file edited into broken YAML while the server runs used to refuse every alert of that city
    (and a volunteer's accept): now the city keeps the last policy read well, the server log names the file and
    why, `/health` lists the city until the file is fixed, and a good edit applies to the next alert without a
    restart."""
    policy = ctx.client.app.state.settings.data_dir / "volunteers" / "fake.yaml"  # type: ignore[attr-defined]
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text("first_phase_size: 1\n")
    people = [ctx.volunteer(f"v{i}", 30 * i) for i in range(1, 4)]
    assert len(ctx.alert(1)["responders"]) == 1  # type: ignore[arg-type]
    assert ctx.client.get("/api/v1/health").json()["problems"] == []
    policy.write_text("first_phase_size: [2\n")  # an unfinished edit
    with caplog.at_level("ERROR", logger="lifechain.volunteers.flows"):
        assert len(ctx.alert(2)["responders"]) == 1  # type: ignore[arg-type]
    assert ctx.act(people[0][1], "accept", incident_id=1) == 200
    [logged] = [r.getMessage() for r in caplog.records if str(policy) in r.getMessage()]
    assert "is not valid YAML" in logged and "last good policy" in logged
    [problem] = ctx.client.get("/api/v1/health").json()["problems"]
    assert (problem["code"], problem["city"]) == ("alert_policy_kept", "fake")
    assert "city fake" in problem["text"]["en"] and "last good policy" in problem["text"]["en"]
    assert "城市 fake" in problem["text"]["zh-CN"] and "沿用上一个有效的策略" in problem["text"]["zh-CN"]
    assert str(policy) not in str(problem) and "fake.yaml" not in str(problem)
    policy.write_text("first_phase_size: 2\n")
    assert len(ctx.alert(3)["responders"]) == 2  # type: ignore[arg-type]
    assert ctx.client.get("/api/v1/health").json()["problems"] == []


def test_health_shows_a_broken_policy_file_before_any_alert_reads_it(ctx: Ctx) -> None:
    """`/health` listed a broken policy file only once an alert of its city had read it, so an operator who broke
    a file saw nothing until the next arrest (and saw it still broken after fixing it, until another). It reads
    the files again: a broken edit shows at once, a fixed one clears at once, a new broken file is listed too."""
    folder = ctx.client.app.state.settings.data_dir / "volunteers"  # type: ignore[attr-defined]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fake.yaml").write_text("first_phase_size: 1\n")
    ctx.volunteer("anna", 30)
    assert len(ctx.alert(1)["responders"]) == 1  # type: ignore[arg-type]
    health = lambda: ctx.client.get("/api/v1/health").json()["problems"]  # noqa: E731
    (folder / "fake.yaml").write_text("first_phase_size: [1\n")
    (folder / "other.yaml").write_text("first_phase_size: none\n")
    assert [(p["code"], p["city"], p["text"]["en"]) for p in health()] == [
        ("alert_policy_kept", "fake", "the alert policy file of city fake is broken (the server log says why): its "
                                      "alerts use the last good policy"),
        ("alert_policy_refused", "other", "the alert policy file of city other is broken (the server log says why): "
                                          "no alert can start there")]
    assert health()[1]["text"]["zh-CN"] == ("城市 other 的志愿者呼叫策略文件有误（原因见服务器日志）："
                                            "该城市无法发起志愿者呼叫")
    (folder / "fake.yaml").write_text("first_phase_size: 2\n")
    (folder / "other.yaml").unlink()
    assert health() == []


def test_one_response_that_cannot_advance_holds_back_no_other(ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    """The phase ticker advanced every running response in one transaction, so one that failed (here: its city's
    walking network is gone) stopped the widening of every other city's arrests. Each now advances on its own."""
    from lifechain.errors import NotFound

    policy_dir = ctx.client.app.state.settings.data_dir / "volunteers"  # type: ignore[attr-defined]
    policy_dir.mkdir(parents=True, exist_ok=True)
    for city in ("fake", "gone"):
        (policy_dir / f"{city}.yaml").write_text("first_phase_size: 1\nphase_size: 1\n")
    people = [ctx.volunteer(f"v{i}", 30 * i) for i in range(1, 4)]
    ctx.incident(2)
    res = ctx.client.post("/api/v1/incidents/1/responders", headers=ctx.dispatcher,
                          json={"city": "gone", **PATIENT, "nature": "cardiac_arrest", "ambulance_eta_s": 600})
    assert res.status_code == 201, res.text
    ctx.alert(2)

    def router_for(city: str) -> StraightLineRouter:
        if city == "gone":
            raise NotFound(f"city {city} has no walking network")
        return StraightLineRouter(speed=1.8)

    ctx.client.app.state.volunteer_router_for = router_for  # type: ignore[attr-defined]
    ctx.clock.advance(61)
    for _, h in people:  # devices keep answering
        ctx.client.post("/api/v1/volunteers/me/heartbeat", headers=h)
    with caplog.at_level("ERROR", logger="lifechain.volunteers.flows"):
        assert views.tick(ctx.client.app) == 1  # type: ignore[arg-type]
    assert any("incident 1 failed" in r.getMessage() for r in caplog.records)
    alerted = ctx.client.get("/api/v1/incidents/2/responders", headers=ctx.dispatcher).json()["responders"]
    assert [r["responder_id"] for r in alerted] == [people[0][0], people[1][0]]


def test_check_policies_prints_what_each_city_changes_and_refuses_a_broken_file(tmp_path: Path) -> None:
    """`lifechain volunteers check-policies` reads the files as the server does: what each city changes from the
    defaults, `error: <file>: <why>` and status 2 for a broken one, and a city that would name a file outside the
    policies' folder is refused, not read."""
    from typer.testing import CliRunner

    from lifechain.cli import _register_domains, app

    _register_domains()
    folder = tmp_path / "volunteers"
    run = lambda *args: CliRunner().invoke(app, ["--data-dir", str(tmp_path), "volunteers",  # noqa: E731
                                                 "check-policies", *args])
    assert run().output == f"no alert policy file in {folder}: every city alerts by the defaults\n"
    folder.mkdir()
    (folder / "helsinki.yaml").write_text("first_phase_size: 1\nexclusions: [unsafe_scene, care_home]\n")
    (tmp_path / "outside.yaml").write_text("first_phase_size: 2\n")
    out = run()
    assert out.exit_code == 0 and out.output == "helsinki: first_phase_size=1, exclusions=care_home,unsafe_scene\n"
    assert run("--city", "auckland").output == "auckland: the defaults\n"
    outside = run("--city", "../outside")
    assert outside.exit_code == 2 and "city '../outside' cannot name an alert policy file" in outside.output
    (folder / "bad.yaml").write_text("first_phase_size: many\n")
    broken = run()
    assert broken.exit_code == 2
    assert f"error: {folder / 'bad.yaml'}: alert policy: first_phase_size: Input should be a valid integer" in (
        broken.output)


def test_policies_read_at_start_are_kept_over_a_file_broken_later(settings: Settings) -> None:
    """The server reads every city's policy at start (the cities with a file, and the imported ones, whose policy
    is then the defaults), so a file broken before the city's first alert still leaves a good policy to keep; a
    city never read before its file broke has none, and is refused naming the file."""
    from lifechain.errors import Invalid

    folder = settings.data_dir / "volunteers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fake.yaml").write_text("first_phase_size: 1\n")
    with TestClient(create_app(settings, clock=ManualClock(T0))) as client:
        book: flows.PolicyBook = client.app.state.volunteer_policies  # type: ignore[attr-defined]
        (folder / "fake.yaml").write_text("first_phase_size: 0\n")
        (folder / "new.yaml").write_text("first_phase_size: 0\n")
        assert book("fake").first_phase_size == 1
        with pytest.raises(Invalid, match=r"new\.yaml: alert policy: phase sizes"):
            book("new")
        assert [(p.code, p.city) for p in book.problems()] == [("alert_policy_kept", "fake"),
                                                                ("alert_policy_refused", "new")]
        assert book.problems()[1].text["en"].endswith("no alert can start there")
    for name in ("fake", "new"):
        (folder / f"{name}.yaml").unlink()
    plain = flows.PolicyBook(data_dir=settings.data_dir, heartbeat_timeout_s=300)
    plain.load(["elsewhere"])  # no file: the defaults are its good policy
    (folder / "elsewhere.yaml").write_text("[")
    assert plain("elsewhere") == flows.core.AlertPolicy()
    assert [p.text["en"] for p in plain.problems()] == [
        "the alert policy file of city elsewhere is broken (the server log says why): its alerts use the last good "
        "policy"]
    (folder / "elsewhere.yaml").unlink()
    assert plain("elsewhere") == flows.core.AlertPolicy() and plain.problems() == []


def test_a_facility_or_aed_the_alerts_could_not_read_is_refused_when_registered(
        ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    """A facility's time zone was stored unchecked, and every later alert of its city failed on it ("unknown time
    zone"): one typo stopped all of a city's volunteer alerts. Hours longer than their column once written out,
    and a phone longer than its column, failed on PostgreSQL only (a 500). Each is now a 422 saying what was wrong,
    and nothing is stored; a facility stored unchecked before is left off duty instead of stopping the alerts."""
    clinic = {"city": "fake", "name": "School clinic", "kind": "school_clinic", **north(100)}
    mars = ctx.client.post("/api/v1/volunteers/facilities", headers=ctx.admin,
                           json={**clinic, "timezone": "Mars/Olympus_Mons"})
    assert mars.status_code == 422 and mars.json()["detail"] == "unknown time zone 'Mars/Olympus_Mons'", mars.text
    spans = "Mo " + ",".join(f"{h:02d}:00-{h:02d}:30" for h in range(20))  # 20 spans: 242 characters
    for body in ({**clinic, "opening_hours": spans}, {"city": "fake", **north(50), "opening_hours": spans}):
        path = "/api/v1/volunteers/facilities" if "kind" in body else "/api/v1/aeds"
        res = ctx.client.post(path, headers=ctx.admin, json=body)
        assert res.status_code == 422, res.text
        assert res.json()["detail"].startswith("opening hours: 242 characters once written out (Mo 00:00-00:30,")
    long_phone = ctx.client.post("/api/v1/volunteers/facilities", headers=ctx.admin,
                                 json={**clinic, "phone": "+358" + "1" * 40})
    assert long_phone.status_code == 422 and long_phone.json()["errors"][0]["field"] == "body.phone"
    assert ctx.client.get("/api/v1/volunteers/facilities", headers=ctx.dispatcher).json() == []
    assert ctx.client.get("/api/v1/aeds?city=fake", headers=ctx.dispatcher).json() == []
    # One stored before the check (an older version's database) is left off duty, logged: the alert goes out.
    from lifechain.volunteers.tables import Facility

    with transaction(ctx.client.app.state.sessionmaker) as session:  # type: ignore[attr-defined]
        session.add(Facility(city="fake", name="Old clinic", kind="school_clinic", lat=north(80)["lat"],
                             lon=PATIENT["lon"], opening_hours="24/7", timezone="Mars/Olympus_Mons", staff_on_duty=1,
                             has_aed=False))
    anna, _ = ctx.volunteer("anna", 60)
    with caplog.at_level("WARNING", logger="lifechain.volunteers.repo"):
        assert [r["responder_id"] for r in ctx.alert()["responders"]] == [anna]  # type: ignore[index]
    assert "(Old clinic) is not alerted: unknown time zone 'Mars/Olympus_Mons'" in caplog.text


def test_volunteers_facilities_and_aeds_are_registered_only_in_an_imported_city(ctx: Ctx) -> None:
    """A volunteer, facility or AED registered under a misspelt city (201) was never alerted or fetched: alerts look
    them up by the incident's city. Each is now a 422 naming `city` and the cities there are, and nothing is stored;
    the same under the right name is stored."""
    vol = {"name": "anna", "phone": "+358401234567", "qualifications": CERT}
    clinic = {"name": "School clinic", "kind": "school_clinic", **north(100)}
    aed = north(50)
    for path, body in (("/api/v1/volunteers", vol), ("/api/v1/volunteers/facilities", clinic), ("/api/v1/aeds", aed)):
        res = ctx.client.post(path, headers=ctx.admin, json={"city": "fak", **body})
        assert res.status_code == 422, res.text
        assert res.json()["context"]["field"] == "city"
        assert res.json()["detail"].startswith("city: 'fak' is not imported on this server"), res.text
    csv = "lat,lon\n" + f"{aed['lat']},{aed['lon']}\n"
    bulk = ctx.client.post("/api/v1/aeds/import?city=fak", headers=ctx.admin, content=csv)
    assert bulk.status_code == 422 and bulk.json()["context"]["field"] == "city", bulk.text
    reader = ctx.dispatcher
    assert ctx.client.get("/api/v1/volunteers", headers=reader).json() == []
    assert ctx.client.get("/api/v1/volunteers/facilities", headers=reader).json() == []
    assert ctx.client.get("/api/v1/aeds?city=fak", headers=reader).json() == []
    for path, body in (("/api/v1/volunteers", vol), ("/api/v1/volunteers/facilities", clinic), ("/api/v1/aeds", aed)):
        assert ctx.client.post(path, headers=ctx.admin, json={"city": "fake", **body}).status_code == 201
    assert ctx.client.post("/api/v1/aeds/import?city=fake", headers=ctx.admin, content=csv).json() == {"imported": 1}
