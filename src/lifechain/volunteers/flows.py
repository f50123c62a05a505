"""Volunteer flows: registry changes, alerting in phases, responder actions and stand-down (load -> core -> persist
-> record on the timeline -> notify).

Every time comes from the caller's clock; every travel time from the geo `Router` handed in.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifechain import events
from lifechain.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from lifechain.files import read_yaml
from lifechain.geo.core import M_PER_DEG, LatLon, Router
from lifechain.timeline import flows as timeline_flows
from lifechain.timeline.core import EventKind, Source, TimelineEvent
from lifechain.volunteers import core, repo
from lifechain.volunteers.tables import AedRow, Facility, ResponseRow, Volunteer, VolunteerQualification

log = logging.getLogger(__name__)
MESSAGE_KIND = "volunteers.message"
STAND_DOWN_KINDS = {
    "timeline.unit_on_scene": "ems_on_scene",
    "timeline.at_patient": "ems_on_scene",
    "timeline.incident_cancelled": "cancelled",
    "timeline.incident_closed": "closed",
}


# --- Channels ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    """How to reach one responder."""

    responder_id: int
    channels: tuple[str, ...] = ()
    push_subscription: dict[str, Any] | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class ResponderMessage:
    """What a responder is told: an alert, their role, that they are not needed, or that the response ended."""

    kind: Literal["alert", "role", "not_needed", "stood_down"]
    incident_id: int
    responder_id: int
    at: datetime
    body: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """A short plain-text version (SMS, push notification body)."""
        if self.kind == "alert":
            where = self.body.get("address") or f"{self.body['location']['lat']:.5f},{self.body['location']['lon']:.5f}"
            via = " via the AED" if self.body.get("aed") else ""
            return f"{self.body['nature_label']} at {where}: go{via} now (role {self.body['role']})."
        if self.kind == "role":
            return f"Thank you: your role is {self.body.get('role')}."
        if self.kind == "not_needed":
            return "Enough responders accepted: you are not needed, thank you."
        return "Emergency services have taken over: you are stood down, thank you."


class Notifier(Protocol):
    """A channel that carries messages to responders (live stream, Web Push, SMS)."""

    def send(self, session: Session, recipient: Recipient, message: ResponderMessage) -> None: ...


class LiveStreamNotifier:
    """Puts the message on the live stream (committed with the transaction), where the volunteer app reads it."""

    def send(self, session: Session, recipient: Recipient, message: ResponderMessage) -> None:
        payload = {"kind": message.kind, "incident_id": message.incident_id,
                   "responder_id": recipient.responder_id, "body": message.body}
        events.publish(session, MESSAGE_KIND, payload, at=message.at)


class WebPushNotifier:
    """Web Push (RFC 8030 with VAPID) through `pywebpush`; a failed push is logged, never fatal to the alert."""

    def __init__(self, *, vapid_private_key: str, subject: str, sender: Callable[..., Any] | None = None) -> None:
        if sender is None:
            from pywebpush import webpush

            sender = webpush
        self._send = sender
        self._key = vapid_private_key
        self._claims = {"sub": subject}

    def send(self, session: Session, recipient: Recipient, message: ResponderMessage) -> None:
        if recipient.push_subscription is None:
            return
        data = json.dumps({"title": "Lifechain", "body": message.text(), "kind": message.kind,
                           "incident_id": message.incident_id})
        try:
            self._send(subscription_info=recipient.push_subscription, data=data, vapid_private_key=self._key,
                       vapid_claims=dict(self._claims), ttl=300, timeout=5)
        except Exception as exc:  # the push service is outside our control; other channels still carry the alert
            log.warning("web push to responder %s failed: %s", recipient.responder_id, exc)


class SmsGateway(Protocol):
    """An SMS provider (none is bundled; a deployment plugs its own)."""

    def send_sms(self, to: str, text: str) -> None: ...


class SmsNotifier:
    """Sends the plain-text message by SMS to responders who chose that channel; a failed SMS is logged, never
    fatal to the alert, the stand-down or the action that sent it."""

    def __init__(self, gateway: SmsGateway) -> None:
        self._gateway = gateway

    def send(self, session: Session, recipient: Recipient, message: ResponderMessage) -> None:
        if "sms" in recipient.channels and recipient.phone:
            try:
                self._gateway.send_sms(recipient.phone, message.text())
            except Exception as exc:  # the provider is outside our control: the other channels still carry it
                log.warning("SMS to responder %s failed: %s", recipient.responder_id, exc)


class Fanout:
    """Sends through every channel in turn."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def send(self, session: Session, recipient: Recipient, message: ResponderMessage) -> None:
        for notifier in self.notifiers:
            notifier.send(session, recipient, message)


_default_notifier: Notifier = LiveStreamNotifier()


@dataclass
class Wiring:
    """What one app's event-bus reactions need and cannot get from the event: routers, policies, the channel."""

    router_for: Callable[[str], Router] | None = None
    policy_for: Callable[[str], core.AlertPolicy] | None = None
    gps_stale_after_s: float = 120.0
    notifier: Notifier | None = None


def configure(wiring: Wiring, *, router_for: Callable[[str], Router], policy_for: Callable[[str], core.AlertPolicy],
              notifier: Notifier | None = None, gps_stale_after_s: float = 120.0) -> None:
    """Set what an app's event-bus reactions use (done by the app at start)."""
    wiring.router_for, wiring.policy_for = router_for, policy_for
    wiring.gps_stale_after_s, wiring.notifier = gps_stale_after_s, notifier


# --- Policy -----------------------------------------------------------------------------------------------------


def policy_for(*, data_dir: Path, city: str, heartbeat_timeout_s: float) -> core.AlertPolicy:
    """The city's policy: defaults, the heartbeat timeout from settings, then `<data>/volunteers/<city>.yaml`. A file
    that cannot be read, is not YAML, is not a mapping or holds a wrong field is refused naming the file: an alert
    it stops is a 422, or a `responders_alert_failed` node on the timeline, with that reason."""
    values: dict[str, Any] = {"heartbeat_timeout_s": heartbeat_timeout_s}
    path = _policy_path(data_dir, city)
    if not path.is_file():
        return core.AlertPolicy.from_mapping(values)
    data = read_yaml(path, what="alert policy file")  # only cities with a policy file import YAML
    if data is not None and not isinstance(data, dict):
        raise Invalid(f"{path}: expected the alert policy's fields as a mapping (e.g. target_s: 240), got a "
                      f"{type(data).__name__}")
    try:
        return core.AlertPolicy.from_mapping({**values, **(data or {})})
    except Invalid as exc:
        raise Invalid(f"{path}: {exc.message}") from exc


def _policy_path(data_dir: Path, city: str) -> Path:
    """`<data>/volunteers/<city>.yaml`; a city that would name a file elsewhere ("../x", "a/b") is refused."""
    path = data_dir / "volunteers" / f"{city}.yaml"
    if path.parent != data_dir / "volunteers":
        raise Invalid(f"city {city!r} cannot name an alert policy file", field="city")
    return path


def _policy_problem(city: str, *, kept: bool) -> Problem:
    """A city's broken alert policy file, and what its alerts do meanwhile (`kept`: the last good policy)."""
    if kept:
        return Problem("alert_policy_kept", city, {
            "en": f"the alert policy file of city {city} is broken (the server log says why): its alerts use the "
                  "last good policy",
            "zh-CN": f"城市 {city} 的志愿者呼叫策略文件有误（原因见服务器日志）：呼叫沿用上一个有效的策略"})
    return Problem("alert_policy_refused", city, {
        "en": f"the alert policy file of city {city} is broken (the server log says why): no alert can start there",
        "zh-CN": f"城市 {city} 的志愿者呼叫策略文件有误（原因见服务器日志）：该城市无法发起志愿者呼叫"})


class PolicyBook:
    """Each city's alert policy as the server uses it: `policy_for`, read again only when the file changes (its
    size, time or inode), so an edit takes effect at the next alert without a restart.

    A file edited into something broken while the server runs does not stop the city's alerts (nor a volunteer's
    accept, nor the phase ticker): the city keeps the last policy that was read well (the defaults, if it had no
    file), the reason is logged once per broken version and listed by `problems` (shown by `/health`, which reads
    the files again) until the file is fixed or removed. Only a city with no good policy yet, whose first read fails,
    is refused (422, or the timeline's `responders_alert_failed`); `lifechain serve` refuses to start on such a
    file."""

    def __init__(self, *, data_dir: Path, heartbeat_timeout_s: float) -> None:
        self.data_dir, self.heartbeat_timeout_s = data_dir, heartbeat_timeout_s
        self._lock = threading.Lock()
        self._good: dict[str, tuple[object, core.AlertPolicy]] = {}  # city -> (file stamp, policy)
        self._bad: dict[str, tuple[object, Invalid]] = {}  # city -> (file stamp, why it was refused)

    def __call__(self, city: str) -> core.AlertPolicy:
        stamp = self._stamp(city)
        with self._lock:
            good, bad = self._good.get(city), self._bad.get(city)
            if good is not None and good[0] == stamp:  # unchanged, or back as it was read well (removed, say)
                self._bad.pop(city, None)
                return good[1]
            if bad is None or bad[0] != stamp:
                try:
                    policy = policy_for(data_dir=self.data_dir, city=city, heartbeat_timeout_s=self.heartbeat_timeout_s)
                except Invalid as exc:
                    bad = self._bad[city] = (stamp, exc)
                    log.error("%s; %s", exc.message, "alerts keep the city's last good policy" if good else
                              "no alert can start in this city until it is fixed")
                else:
                    self._good[city] = (stamp, policy)
                    self._bad.pop(city, None)
                    return policy
            if good is None:
                raise bad[1].again()
            return good[1]

    def load(self, cities: Collection[str]) -> None:
        """Read the policies of `cities` now (at start), so that each has a good policy to keep (the defaults when
        it has no file) if its file is later broken; a city refused here is logged and stays without one."""
        for city in cities:
            with contextlib.suppress(Invalid):
                self(city)

    def problems(self) -> list[Problem]:
        """Each city whose policy file is refused as it is now, and what its alerts do meanwhile. Every file is
        checked again first (read only when it changed), so that an operator sees an edit's effect here at once
        rather than at the city's next alert. Public (`/health`), so without the file's path or contents: the
        server log has the reason."""
        with self._lock:
            known = {*self._good, *self._bad}
        for city in {*known, *cities_with_policy_files(self.data_dir)}:
            with contextlib.suppress(Invalid):
                self(city)
        with self._lock:
            return [_policy_problem(city, kept=city in self._good) for city in sorted(self._bad)]

    def _stamp(self, city: str) -> object:
        try:
            st = _policy_path(self.data_dir, city).stat()  # a bad name is refused here, before it is remembered
        except OSError:
            return None  # no file (or none to read): the defaults, or the reader's refusal
        return (st.st_mtime_ns, st.st_size, st.st_ino)


def overrides(policy: core.AlertPolicy) -> dict[str, Any]:
    """The fields of `policy` that differ from the defaults (what a city's file and the settings changed)."""
    default = core.AlertPolicy()
    return {f.name: getattr(policy, f.name) for f in fields(policy)
            if getattr(policy, f.name) != getattr(default, f.name)}


def cities_with_policy_files(data_dir: Path) -> list[str]:
    """The cities that have an alert policy file, sorted."""
    folder = data_dir / "volunteers"
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def check_policies(*, data_dir: Path, heartbeat_timeout_s: float,
                   cities: Sequence[str] | None = None) -> dict[str, core.AlertPolicy]:
    """Read the alert policy of each of `cities` (default: every city with a policy file) as `policy_for` does, so
    that a broken file stops the server from starting instead of the first arrest's alert; returns the policies."""
    return {city: policy_for(data_dir=data_dir, city=city, heartbeat_timeout_s=heartbeat_timeout_s)
            for city in (cities_with_policy_files(data_dir) if cities is None else cities)}


# --- Registry ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualificationIn:
    """A certificate to register."""

    kind: str
    issued: date
    expires: date


def register_volunteer(*, session: Session, now: datetime, city: str, name: str,
                       qualifications: Sequence[QualificationIn], phone: str | None = None, email: str | None = None,
                       affiliation: str | None = None, facility_id: int | None = None,
                       channels: Sequence[str] = ("app",)) -> Volunteer:
    """Register a volunteer (off duty, no position) with their certificates."""
    if facility_id is not None:
        repo.get_facility(session=session, facility_id=facility_id)
    row = Volunteer(city=city, name=name, phone=phone, email=email, affiliation=affiliation, facility_id=facility_id,
                    on_duty=False, channels=list(_check_channels(channels)), created_at=now)
    row.qualifications = [_qualification(q) for q in qualifications]
    repo.add(session=session, row=row)
    return row


CHANNELS = ("app", "push", "sms")


def _check_channels(channels: Sequence[str]) -> Sequence[str]:
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise Invalid(f"unknown alert channel {', '.join(bad)}: expected {', '.join(CHANNELS)}", field="channels")
    return channels


def _qualification(q: QualificationIn) -> VolunteerQualification:
    try:
        kind = core.QualificationKind(q.kind)
    except ValueError as exc:
        names = ", ".join(k.value for k in core.QualificationKind)
        raise Invalid(f"unknown qualification {q.kind!r}: expected one of {names}", field="kind") from exc
    if q.expires < q.issued:
        raise Invalid("a qualification cannot expire before it was issued", field="expires")
    return VolunteerQualification(kind=kind.value, issued=q.issued, expires=q.expires)


def add_qualification(*, session: Session, volunteer_id: int, qualification: QualificationIn) -> Volunteer:
    """Add a certificate to a volunteer."""
    row = repo.get_volunteer(session=session, volunteer_id=volunteer_id)
    row.qualifications.append(_qualification(qualification))
    session.flush()
    return row


def is_responding(*, session: Session, volunteer_id: int) -> bool:
    """True while the volunteer has an accepted alert in a response that is still running."""
    for alert in repo.alerts_for_responder(session=session, responder_id=volunteer_id):
        if alert.state in ("accepted", "arrived"):
            return True
    return False


def set_on_duty(*, session: Session, volunteer_id: int, on_duty: bool, now: datetime) -> Volunteer:
    """Go on or off duty; going off duty forgets the position unless the volunteer is responding."""
    row = repo.get_volunteer(session=session, volunteer_id=volunteer_id)
    row.on_duty = on_duty
    if on_duty:
        row.last_heartbeat = now
    elif not is_responding(session=session, volunteer_id=volunteer_id):
        _forget_position(row)
    return row


def _forget_position(row: Volunteer) -> None:
    row.lat = row.lon = None
    row.position_at = None


def update_location(*, session: Session, volunteer_id: int, position: LatLon, now: datetime) -> Volunteer:
    """Store the volunteer's position; refused (409) unless on duty or responding."""
    row = repo.get_volunteer(session=session, volunteer_id=volunteer_id)
    if not row.on_duty and not is_responding(session=session, volunteer_id=volunteer_id):
        raise Conflict("location is only accepted while on duty or responding: go on duty first")
    row.lat, row.lon, row.position_at = position.lat, position.lon, now
    row.last_heartbeat = now
    return row


def heartbeat(*, session: Session, volunteer_id: int, now: datetime) -> Volunteer:
    """The device answered: it counts as reachable for the heartbeat timeout."""
    row = repo.get_volunteer(session=session, volunteer_id=volunteer_id)
    row.last_heartbeat = now
    return row


def set_push_subscription(*, session: Session, volunteer_id: int, subscription: dict[str, Any] | None) -> Volunteer:
    """Store (or clear) the browser's Web Push subscription."""
    row = repo.get_volunteer(session=session, volunteer_id=volunteer_id)
    if subscription is not None and not {"endpoint", "keys"} <= set(subscription):
        raise Invalid("a push subscription has an endpoint and keys (from PushManager.subscribe)")
    row.push_subscription = subscription
    if subscription is not None and "push" not in row.channels:
        row.channels = [*row.channels, "push"]
    return row


# --- Alerting ---------------------------------------------------------------------------------------------------


def _eligible(*, session: Session, city: str, around: LatLon, reach_m: float, now: datetime) -> list[core.Responder]:
    """On-duty volunteers inside the bounding box of `reach_m` around `around`, and the city's facilities."""
    dlat = reach_m / M_PER_DEG
    dlon = dlat / max(math.cos(math.radians(around.lat)), 0.01)
    q = select(Volunteer).where(Volunteer.city == city, Volunteer.on_duty.is_(True),
                                Volunteer.lat.between(around.lat - dlat, around.lat + dlat),
                                Volunteer.lon.between(around.lon - dlon, around.lon + dlon))
    rows = list(session.scalars(q))
    busy = repo.responding_ids(session=session, responder_ids=[r.id for r in rows])
    people = [repo.to_responder(r, responding=r.id in busy) for r in rows]
    clinics = [repo.to_facility_responder(f, at=now) for f in repo.list_facilities(session=session, city=city)]
    return people + clinics


def _aeds(*, session: Session, city: str) -> list[core.Aed]:
    return [repo.to_aed(a) for a in repo.list_aeds(session=session, city=city)]


def _ambulance_eta(response: ResponseRow, now: datetime) -> float | None:
    at = response.ambulance_eta_at
    return None if at is None else max((at - now).total_seconds(), 0.0)


def start_response(*, session: Session, router: Router, incident_id: int, city: str, location: LatLon, nature: str,
                   now: datetime, ambulance_eta_s: float | None, policy: core.AlertPolicy,
                   exclusions: Collection[str] = (), address: str | None = None, actor: str = "system",
                   notifier: Notifier | None = None) -> core.AlertPlan:
    """Alert the first phase for an incident (suspected arrest or choking, or on a dispatcher's request)."""
    if repo.get_response(session=session, incident_id=incident_id) is not None:
        raise Conflict(f"volunteers were already alerted for incident {incident_id}")
    eta_at = now + timedelta(seconds=ambulance_eta_s) if ambulance_eta_s is not None else None
    response = ResponseRow(incident_id=incident_id, city=city, nature=nature, lat=location.lat, lon=location.lon,
                           address=address, started_at=now, ambulance_eta_at=eta_at, replaced=[], blocked_by=[])
    plan = core.plan_alerts(location, [], [], router, now=now, ambulance_eta_s=ambulance_eta_s, policy=policy,
                            nature=nature, exclusions=exclusions, count=0)  # validates nature and exclusions
    session.add(response)
    if plan.blocked_by:
        repo.save_plan(session=session, response=response, plan=plan)
        _record(session, response, EventKind.NOTE, now, actor, {"volunteers_blocked_by": list(plan.blocked_by)})
        return plan
    return _alert_more(session=session, router=router, response=response, plan=plan, now=now, policy=policy,
                       notifier=notifier, first=True)


def _alert_more(*, session: Session, router: Router, response: ResponseRow, plan: core.AlertPlan, now: datetime,
                policy: core.AlertPolicy, notifier: Notifier | None, first: bool) -> core.AlertPlan:
    location = LatLon(response.lat, response.lon)
    eta = _ambulance_eta(response, now)
    reach = max(policy.deadline_s(eta, (now - plan.started_at).total_seconds()) - policy.set_off_delay_s, 0.0)
    people = _eligible(session=session, city=response.city, around=location,
                       reach_m=reach * policy.walking_speed_mps * 1.01 + 1.0, now=now)
    aeds = _aeds(session=session, city=response.city)
    if first:
        new_plan = core.plan_alerts(location, people, aeds, router, now=now, ambulance_eta_s=eta, policy=policy,
                                    already=plan)
    else:
        new_plan = core.next_phase(plan, location, people, aeds, router, now=now, ambulance_eta_s=eta, policy=policy)
    session.flush()
    repo.save_plan(session=session, response=response, plan=new_plan)
    known = {a.responder_id for a in plan.alerts}
    fresh = [a for a in new_plan.alerts if a.responder_id not in known]
    aed_rows = {a.id: a for a in aeds}
    for alert in fresh:
        _record(session, response, EventKind.RESPONDER_ALERTED, now, "system", _alert_payload(alert))
        _tell(session, notifier, alert.responder_id, ResponderMessage(
            "alert", response.incident_id, alert.responder_id, now, alert_body(response, alert, aed_rows)))
    return new_plan


def _alert_payload(alert: core.Alert) -> dict[str, Any]:
    return {"responder_id": alert.responder_id, "responder_kind": alert.kind, "role": alert.role.value,
            "aed_id": alert.aed_id, "eta_s": round(alert.eta_s, 1), "phase": alert.phase}


def alert_body(response: ResponseRow, alert: core.Alert, aeds: dict[int, core.Aed]) -> dict[str, Any]:
    """What a responder may know about the call: place, nature, their role and route; never medical detail."""
    aed = aeds.get(alert.aed_id) if alert.aed_id is not None else None
    return {
        "incident_id": response.incident_id,
        "nature": response.nature,
        "nature_label": core.NATURE_LABELS.get(response.nature, {}).get("en", response.nature),
        "location": {"lat": response.lat, "lon": response.lon},
        "address": response.address,
        "role": (alert.accepted_role or alert.role).value,
        "eta_s": round(alert.eta_s, 1),
        "aed": None if aed is None else {"id": aed.id, "lat": aed.location.lat, "lon": aed.location.lon,
                                         "indoor": aed.indoor},
    }


def _record(session: Session, response: ResponseRow, kind: EventKind, now: datetime, actor: str,
            payload: dict[str, Any], source: Source = Source.SYSTEM) -> TimelineEvent:
    event = TimelineEvent(kind=kind, at=now, incident_id=response.incident_id, actor=actor, source=source,
                          payload=payload)
    return timeline_flows.record(session=session, event=event, now=now)


def _recipient(session: Session, responder_id: int) -> Recipient:
    if responder_id < 0:
        return Recipient(responder_id=responder_id, channels=("app",))
    row = session.get(Volunteer, responder_id)
    if row is None:
        return Recipient(responder_id=responder_id)
    return Recipient(responder_id=row.id, channels=tuple(row.channels or ()), push_subscription=row.push_subscription,
                     phone=row.phone)


def _tell(session: Session, notifier: Notifier | None, responder_id: int, message: ResponderMessage) -> None:
    (notifier or _default_notifier).send(session, _recipient(session, responder_id), message)


def _load(session: Session, incident_id: int) -> tuple[ResponseRow, core.AlertPlan]:
    response = repo.get_response(session=session, incident_id=incident_id)
    if response is None:
        raise NotFound(f"no volunteers were alerted for incident {incident_id}")
    return response, repo.load_plan(response=response, alerts=repo.alerts_of(session=session, incident_id=incident_id))


def advance(*, session: Session, router: Router, incident_id: int, now: datetime, policy: core.AlertPolicy,
            notifier: Notifier | None = None) -> core.AlertPlan:
    """Replace refusals and widen when nobody accepted in time (called by the phase ticker and after a refusal)."""
    response, plan = _load(session, incident_id)
    if not core.phase_due(plan, now=now, policy=policy):
        return plan  # nothing to do: no need to load responders and AEDs
    return _alert_more(session=session, router=router, response=response, plan=plan, now=now, policy=policy,
                       notifier=notifier, first=False)


def advance_all(*, session: Session, router_for: Callable[[str], Router], now: datetime,
                policy_for_city: Callable[[str], core.AlertPolicy], notifier: Notifier | None = None) -> int:
    """Advance every running response; returns how many new alerts were sent. Each response advances in its own
    savepoint: one that fails (its city's walking network or policy gone, say) is logged and left for the next pass,
    and never holds back the others."""
    sent = 0
    for response in repo.list_open_responses(session=session):
        incident_id = response.incident_id
        try:
            with session.begin_nested():
                before = len(repo.alerts_of(session=session, incident_id=incident_id))
                plan = advance(session=session, router=router_for(response.city), incident_id=incident_id, now=now,
                               policy=policy_for_city(response.city), notifier=notifier)
        except Exception:
            log.exception("advancing the volunteer response of incident %s failed", incident_id)
            continue
        sent += len(plan.alerts) - before
    return sent


def act(*, session: Session, incident_id: int, responder_id: int, action: core.Action, now: datetime,
        policy: core.AlertPolicy, actor: str, router: Router | None = None,
        notifier: Notifier | None = None) -> core.Alert:
    """A responder accepts, declines or reports from the scene; each step is a timeline event with time and actor."""
    response, plan = _load(session, incident_id)
    if action == core.Action.ACCEPT:
        outcome = core.on_accept(plan, responder_id, now=now, policy=policy)
        plan = outcome.plan
        for rid in outcome.not_needed:
            _not_needed(session, response, rid, now, notifier)
    elif action == core.Action.DECLINE:
        plan = core.on_decline(plan, responder_id, now=now)
    else:
        plan = core.on_action(plan, responder_id, action, now=now)
    repo.save_plan(session=session, response=response, plan=plan)
    alert = plan.alert_for(responder_id)
    if alert.state != core.AlertState.NOT_NEEDED:
        payload = {**_alert_payload(alert), "role": (alert.accepted_role or alert.role).value}
        _record(session, response, core.ACTION_EVENTS[action], now, actor, payload, Source.VOLUNTEER_APP)
    if action == core.Action.ACCEPT and alert.state == core.AlertState.ACCEPTED:
        _tell(session, notifier, responder_id, ResponderMessage(
            "role", incident_id, responder_id, now, alert_body(response, alert, _aed_map(session, response))))
    if action == core.Action.DECLINE and router is not None:
        advance(session=session, router=router, incident_id=incident_id, now=now, policy=policy, notifier=notifier)
    return alert


def _aed_map(session: Session, response: ResponseRow) -> dict[int, core.Aed]:
    return {a.id: a for a in _aeds(session=session, city=response.city)}


def _not_needed(session: Session, response: ResponseRow, responder_id: int, now: datetime,
                notifier: Notifier | None) -> None:
    _record(session, response, EventKind.RESPONDER_NOT_NEEDED, now, "system", {"responder_id": responder_id})
    _tell(session, notifier, responder_id, ResponderMessage("not_needed", response.incident_id, responder_id, now))


def stand_down(*, session: Session, incident_id: int, now: datetime, reason: str, actor: str = "system",
               notifier: Notifier | None = None) -> core.AlertPlan:
    """End the volunteers' part (EMS on scene, call cancelled): tell everyone still engaged, forget positions."""
    response, plan = _load(session, incident_id)
    if plan.stood_down_at is not None:
        return plan
    plan, told = core.stand_down(plan, now=now)
    response.stand_down_reason = reason
    repo.save_plan(session=session, response=response, plan=plan)
    _record(session, response, EventKind.RESPONDERS_STOOD_DOWN, now, actor,
            {"reason": reason, "responder_ids": list(told)})
    for rid in told:
        _tell(session, notifier, rid, ResponderMessage("stood_down", incident_id, rid, now, {"reason": reason}))
        _forget_if_off_duty(session, rid)
    return plan


def _forget_if_off_duty(session: Session, responder_id: int) -> None:
    row = session.get(Volunteer, responder_id) if responder_id > 0 else None
    if row is not None and not row.on_duty:
        _forget_position(row)


def nature_of(determinant: dict[str, Any] | None) -> str | None:
    """The nature volunteers are alerted for, from dispatch's stored determinant (None: not a volunteer call)."""
    if not determinant or not (determinant.get("response_plan") or {}).get("volunteers", False):
        return None
    pathways = set(determinant.get("pathways") or ())
    if determinant.get("suspected_arrest") or "suspected_cardiac_arrest" in pathways:
        return "cardiac_arrest"
    return "choking" if "choking" in pathways else None


def wants_triage(event: events.DomainEvent) -> bool:
    """Whether `on_triage` may act on this determinant node: False only when the event says which determinant it
    records (`meta["determinant"]`, dispatch's stored form) and that one calls for no volunteers."""
    determinant = event.meta.get("determinant")
    return determinant is None or nature_of(determinant) is not None


def on_triage(session: Session, event: events.DomainEvent, *, wiring: Wiring) -> None:
    """Event-bus handler: a determinant whose response plan calls for volunteers (suspected arrest, choking)
    starts the alerting. Runs in dispatch's transaction inside a savepoint: a failure here (no walking network for
    the city, say) is logged and never undoes the triage."""
    incident_id = event.payload.get("incident_id")
    if incident_id is None or wiring.router_for is None or wiring.policy_for is None:
        return
    from lifechain.dispatch import repo as dispatch_repo

    # The incident is usually in the session already; asking its nature first spares a query for most calls.
    incident = dispatch_repo.get(session=session, incident_id=int(incident_id))
    nature = nature_of(incident.determinant)
    if nature is None or repo.get_response(session=session, incident_id=int(incident_id)) is not None:
        return
    try:
        with session.begin_nested():
            start_response(session=session, router=wiring.router_for(incident.city), incident_id=incident.id,
                           city=incident.city, location=LatLon(incident.lat, incident.lon), nature=nature,
                           now=event.at, ambulance_eta_s=None, policy=wiring.policy_for(incident.city),
                           address=incident.address, notifier=wiring.notifier)
    except Exception as exc:
        log.exception("alerting volunteers for incident %s failed", incident_id)
        _record_alert_failure(session, incident.id, event.at, exc)


def _record_alert_failure(session: Session, incident_id: int, now: datetime, exc: Exception) -> None:
    """Put the failure on the incident's timeline, so the dispatcher sees at once that no volunteer was alerted
    (and can alert by hand or lean on telephone CPR) instead of waiting for responders who will never come."""
    reason = str(exc) or type(exc).__name__
    event = TimelineEvent(kind=EventKind.RESPONDERS_ALERT_FAILED, at=now, incident_id=incident_id, actor="system",
                          source=Source.SYSTEM, payload={"reason": reason[:500], "error": type(exc).__name__})
    try:
        with session.begin_nested():
            timeline_flows.record(session=session, event=event, now=now)
    except Exception:  # the database itself failed: the log above is all that is left
        log.exception("recording the alerting failure of incident %s failed", incident_id)


def on_unit_notified(session: Session, event: events.DomainEvent, *, wiring: Wiring) -> None:
    """Event-bus handler: a unit sent to an incident with volunteers gives them an ambulance ETA (the earliest
    unit's), so later phases alert those who can still beat it and AED fetches are judged against it."""
    incident_id, unit_id = event.payload.get("incident_id"), event.payload.get("unit_id")
    if incident_id is None or unit_id is None or wiring.router_for is None:
        return
    response = repo.get_response(session=session, incident_id=int(incident_id))
    if response is None or response.stood_down_at is not None:
        return
    try:
        with session.begin_nested():
            eta_s = _unit_eta(session, response, int(unit_id), event.at, wiring)
            current = response.ambulance_eta_at
            arrival = event.at + timedelta(seconds=eta_s)
            if math.isfinite(eta_s) and (current is None or arrival < current):
                response.ambulance_eta_at = arrival
    except Exception:
        log.exception("ambulance ETA for the volunteers of incident %s failed", incident_id)


def _unit_eta(session: Session, response: ResponseRow, unit_id: int, now: datetime, wiring: Wiring) -> float:
    from lifechain.fleet import repo as fleet_repo

    assert wiring.router_for is not None
    unit = fleet_repo.get_unit(session=session, unit_id=unit_id)
    station = fleet_repo.stations_by_id(session=session, ids={unit.station_id})[unit.station_id]
    origin, _stale = fleet_repo.to_state(unit, station).effective_position(now, wiring.gps_stale_after_s)
    times = wiring.router_for(response.city).times_to([origin], LatLon(response.lat, response.lon), mode="drive")
    return float(times[0])


def on_timeline_event(session: Session, event: events.DomainEvent, *, wiring: Wiring) -> None:
    """Event-bus handler: EMS on scene or the call cancelled stands the volunteers of that incident down."""
    reason = STAND_DOWN_KINDS.get(event.kind)
    incident_id = event.payload.get("incident_id")
    if reason is None or incident_id is None:
        return
    response = repo.get_response(session=session, incident_id=int(incident_id))
    if response is None or response.stood_down_at is not None:
        return
    stand_down(session=session, incident_id=int(incident_id), now=event.at, reason=reason, notifier=wiring.notifier)


def subscribe(bus: events.Bus, wiring: Wiring) -> None:
    """Listen on an app's event bus, with that app's wiring: timeline events that end a response, determinants that
    call for volunteers, units sent (their ETA)."""
    from functools import partial

    for kind in STAND_DOWN_KINDS:
        bus.subscribe(kind, partial(on_timeline_event, wiring=wiring))
    bus.subscribe("timeline.determinant_set", partial(on_triage, wiring=wiring), wants=wants_triage)
    bus.subscribe("timeline.unit_notified", partial(on_unit_notified, wiring=wiring))


# --- Views of a response -----------------------------------------------------------------------------------------


def visible_alert(*, session: Session, incident_id: int, responder_id: int) -> tuple[ResponseRow, core.Alert]:
    """A responder's own alert while the response runs; 403 once stood down or when no longer needed."""
    response, plan = _load(session, incident_id)
    try:
        alert = plan.alert_for(responder_id)
    except NotFound as exc:
        raise NotFound(f"you were not alerted for incident {incident_id}") from exc
    if plan.stood_down_at is not None or alert.state in (core.AlertState.STOOD_DOWN, core.AlertState.NOT_NEEDED,
                                                         core.AlertState.DECLINED, core.AlertState.HANDED_OVER):
        raise Forbidden("this response has ended for you: access to the incident is closed")
    return response, alert


SHOWN_STATES = frozenset({core.AlertState.ALERTED, core.AlertState.ACCEPTED, core.AlertState.ARRIVED})
RESPONDING_STATES = frozenset({core.AlertState.ACCEPTED, core.AlertState.ARRIVED})


def last_position(*, session: Session, response: ResponseRow, alert: core.Alert) -> LatLon | None:
    """Where a volunteer was last seen, as the dispatcher may see it: only while the response runs for them and
    they are on duty or have accepted; never after stand-down. None for clinics and unknown positions."""
    if response.stood_down_at is not None or alert.state not in SHOWN_STATES or alert.responder_id <= 0:
        return None
    row = session.get(Volunteer, alert.responder_id)
    if row is None or row.lat is None or row.lon is None:
        return None
    if not row.on_duty and alert.state not in RESPONDING_STATES:
        return None
    return LatLon(row.lat, row.lon)


def responder_route(*, session: Session, router: Router, response: ResponseRow, alert: core.Alert,
                    aeds: dict[int, core.Aed]) -> list[list[float]]:
    """The responder's walking route from their last known position (via the AED when so routed); empty if the
    position is unknown or may not be shown."""
    origin = last_position(session=session, response=response, alert=alert)
    return route_for(router=router, response=response, alert=alert, aeds=aeds, origin=origin)


def route_for(*, router: Router, response: ResponseRow, alert: core.Alert,
              aeds: dict[int, core.Aed], origin: LatLon | None) -> list[list[float]]:
    """Walking route for the responder (via the AED when so routed), as [lon, lat] pairs; empty if unknown."""
    if origin is None:
        return []
    stops = [origin]
    fetching = alert.aed_id is not None and alert.accepted_role in (None, core.ResponderRole.AED)
    aed = aeds.get(alert.aed_id) if fetching and alert.aed_id is not None else None
    if aed is not None:
        stops.append(aed.location)
    stops.append(LatLon(response.lat, response.lon))
    coords: list[list[float]] = []
    for a, b in itertools.pairwise(stops):
        try:
            leg = router.route(a, b, mode="walk")
        except Exception:  # unreachable or off network: the map shows the straight line instead
            coords.extend([[a.lon, a.lat], [b.lon, b.lat]])
            continue
        coords.extend([p.lon, p.lat] for p in leg.geometry)
    return coords


# --- AED import and export ------------------------------------------------------------------------------------

CSV_FIELDS = ("id", "lat", "lon", "indoor", "opening_hours", "timezone", "status", "last_check", "source",
              "external_ref")


def upsert_aed(*, session: Session, city: str, values: dict[str, Any]) -> AedRow:
    """Create or update an AED (matched on source and external reference when given)."""
    source = values.get("source") or "manual"
    ref = values.get("external_ref") or None
    row = repo.aed_by_ref(session=session, city=city, source=source, external_ref=ref) if ref else None
    if row is None:
        row = AedRow(city=city, source=source, external_ref=ref)
        session.add(row)
    row.lat, row.lon = _coordinate(values)
    row.indoor = values.get("indoor") or ""
    row.opening_hours = core.opening_hours_text(values.get("opening_hours"))
    row.timezone = core.check_timezone(values.get("timezone") or "UTC")
    row.status = _status(values.get("status"))
    row.last_check = _date(values.get("last_check"))
    session.flush()
    return row


def _coordinate(values: dict[str, Any]) -> tuple[float, float]:
    try:
        point = LatLon(float(values["lat"]), float(values["lon"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid("an AED needs numeric lat and lon") from exc
    return point.lat, point.lon


def _status(value: str | None) -> str:
    try:
        return core.AedStatus(value or "ready").value
    except ValueError as exc:
        names = ", ".join(s.value for s in core.AedStatus)
        raise Invalid(f"unknown AED status {value!r}: expected one of {names}") from exc


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise Invalid(f"last_check {value!r} is not a date (YYYY-MM-DD)") from exc


def import_aeds_csv(*, session: Session, city: str, text: str, timezone: str = "UTC",
                    check: Callable[[LatLon], None] | None = None) -> int:
    """Import AEDs from CSV (header with at least lat, lon); a bad line is refused with its line number, as is one
    whose place `check` refuses (off the walking network)."""
    import csv
    import io

    # newline="": the csv module reads the line ends itself, so a lone CR ends a line instead of failing the read.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    count = 0
    try:
        if not reader.fieldnames or not {"lat", "lon"} <= set(reader.fieldnames):
            raise Invalid("the AED CSV needs a header with at least lat and lon columns")
        for values in reader:
            values = {k: v for k, v in values.items() if k}
            values["timezone"] = values.get("timezone") or timezone
            values["source"] = values.get("source") or "csv"
            try:
                if check is not None:
                    check(LatLon(*_coordinate(values)))
                upsert_aed(session=session, city=city, values=values)
            except Invalid as exc:
                raise Invalid(f"line {reader.line_num}: {exc.message}") from exc
            count += 1
    except csv.Error as exc:  # e.g. a field over the csv module's size limit, in the line after the last one read
        raise Invalid(f"line {reader.line_num + 1}: not readable as CSV: {exc}") from exc
    return count


def export_aeds_csv(*, session: Session, city: str) -> str:
    """All AEDs of a city as CSV (the columns `import_aeds_csv` reads)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in repo.list_aeds(session=session, city=city):
        writer.writerow({"id": row.id, "lat": row.lat, "lon": row.lon, "indoor": row.indoor,
                         "opening_hours": row.opening_hours, "timezone": row.timezone, "status": row.status,
                         "last_check": row.last_check.isoformat() if row.last_check else "", "source": row.source,
                         "external_ref": row.external_ref or ""})
    return out.getvalue()


def osm_defibrillators(path: Path) -> list[dict[str, Any]]:
    """Every `emergency=defibrillator` node of an OSM file, as AED values (indoor text from level/description)."""
    from lifechain.geo.osm import osm_objects

    found: list[dict[str, Any]] = []
    for obj in osm_objects(path, key="emergency"):
        if obj.tags.get("emergency") != "defibrillator" or not hasattr(obj, "location"):
            continue
        tags = dict(obj.tags)
        indoor = "; ".join(v for v in (tags.get("defibrillator:location"), tags.get("level") and
                                       f"level {tags['level']}", tags.get("description")) if v)
        found.append({"lat": obj.location.lat, "lon": obj.location.lon, "indoor": indoor,
                      "opening_hours": _osm_hours(tags.get("opening_hours")), "source": "osm",
                      "external_ref": f"node/{obj.id}"})
    return found


def _osm_hours(text: str | None) -> str | None:
    try:
        return core.opening_hours_text(text)
    except Invalid:
        return None  # OSM's full opening_hours grammar is richer than ours: unknown means "assume open"


def import_aeds_osm(*, session: Session, city: str, path: Path, timezone: str,
                    check: Callable[[LatLon], None] | None = None) -> tuple[int, list[str]]:
    """Import (or refresh) a city's AEDs from the `emergency=defibrillator` nodes of its OSM extract: how many were
    imported, and the references (`node/ID`) of those left out because `check` refused their place (off the walking
    network: an extract's edge, an island without paths). One cannot edit OpenStreetMap as one edits a CSV, so
    these are reported, not a reason to import nothing."""
    imported, left_out = 0, []
    for values in osm_defibrillators(path):
        try:
            if check is not None:
                check(LatLon(values["lat"], values["lon"]))
        except Invalid:
            left_out.append(values["external_ref"])
            continue
        upsert_aed(session=session, city=city, values={**values, "timezone": timezone})
        imported += 1
    return imported, left_out


def facilities_add(*, session: Session, city: str, name: str, kind: str, location: LatLon, opening_hours: str,
                   timezone: str, staff_on_duty: int, has_aed: bool, phone: str | None = None) -> Facility:
    """Register a level-2 facility (school clinic or community health station)."""
    if kind not in FACILITY_KINDS:
        raise Invalid(f"unknown facility kind {kind!r}: expected one of {', '.join(FACILITY_KINDS)}", field="kind")
    row = Facility(city=city, name=name, kind=kind, lat=location.lat, lon=location.lon,
                   opening_hours=core.opening_hours_text(opening_hours), timezone=core.check_timezone(timezone),
                   staff_on_duty=staff_on_duty, has_aed=has_aed, phone=phone)
    repo.add(session=session, row=row)
    return row


FACILITY_KINDS = ("school_clinic", "community_health_station")


# --- Measures -------------------------------------------------------------------------------------------------


def area_of(lat: float, lon: float) -> str:
    """The area an incident counts in: a 0.01-degree cell (about 1 km), named by its south-west corner."""
    return f"{math.floor(lat * 100) / 100:.2f},{math.floor(lon * 100) / 100:.2f}"


def measures(*, session: Session, city: str | None = None) -> core.Measures:
    """First-response measures over every incident where responders were alerted (arrests: cardiac_arrest)."""
    from lifechain.timeline import repo as timeline_repo

    q = select(ResponseRow).order_by(ResponseRow.incident_id)
    if city is not None:
        q = q.where(ResponseRow.city == city)
    responses = list(session.scalars(q))
    timelines = {r.incident_id: timeline_repo.list_for_incident(session=session, incident_id=r.incident_id)
                 for r in responses}
    areas = {r.incident_id: area_of(r.lat, r.lon) for r in responses}
    arrests = [r.incident_id for r in responses if r.nature == "cardiac_arrest"]
    return core.measures(timelines, areas=areas, arrests=arrests)


# --- Demo -----------------------------------------------------------------------------------------------------


def load_demo(*, session: Session, city: str, places: dict[str, Any], now: datetime, data_dir: Path | None = None,
              pbf: Path | None = None, count: int = 300) -> Any:
    """Demo volunteers (more around schools), school clinics, AEDs and volunteer users for `city` (idempotent).

    Demo volunteers have no devices to answer heartbeats, so with `data_dir` the city's policy file gets a year-long
    heartbeat timeout (only when the city has no policy file yet).
    """
    from lifechain.volunteers import demo

    loaded = demo.load(session=session, city=city, places=places, now=now, pbf=pbf, count=count)
    if data_dir is not None:
        path = data_dir / "volunteers" / f"{city}.yaml"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("# Demo: simulated volunteers have no devices answering heartbeats.\n"
                            "heartbeat_timeout_s: 31536000\n")
    return loaded
