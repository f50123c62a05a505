"""Queries on incidents, patients and assignments."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, false, or_, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from lifechain import events
from lifechain.auth.core import Principal, Role
from lifechain.db import StatementPool
from lifechain.dispatch.tables import Assignment, Incident, Patient
from lifechain.errors import Forbidden, NotFound
from lifechain.fleet.core import UnitState, UnitStatus, UnitType
from lifechain.fleet.tables import Station, Unit
from lifechain.geo.core import LatLon
from lifechain.timeline.core import TimelineEvent

OPEN_STATUSES = ("received", "waiting", "dispatched", "on_scene", "transporting", "at_hospital")
WAITING_STATUSES = ("received", "waiting")


def get(*, session: Session, incident_id: int) -> Incident:
    """The incident with this id; raises `NotFound`."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}", incident_id=incident_id)
    return incident


def by_idempotency_key(*, session: Session, key: str) -> Incident | None:
    """The incident created with this Idempotency-Key, or None."""
    return session.scalars(select(Incident).where(Incident.idempotency_key == key)).one_or_none()


def readable_by(user: Principal) -> ColumnElement[bool] | None:
    """The incidents `user` may read as a WHERE clause, or None for all (dispatcher, analyst, admin): crew those
    their bound unit is or was assigned to, hospital staff those bound for their hospital."""
    if user.has_any((Role.DISPATCHER, Role.ANALYST)):
        return None
    clauses: list[ColumnElement[bool]] = []
    if Role.CREW in user.roles and user.unit_id is not None:
        clauses.append(Incident.id.in_(select(Assignment.incident_id).where(Assignment.unit_id == user.unit_id)))
    if Role.HOSPITAL_STAFF in user.roles and user.hospital_id is not None:
        clauses.append(Incident.destination_hospital_id == user.hospital_id)
    return or_(*clauses) if clauses else false()


def get_readable(*, session: Session, incident_id: int, user: Principal) -> Incident:
    """The incident with this id if `user` may read it; raises `NotFound`, then `Forbidden` when it is not theirs."""
    incident = get(session=session, incident_id=incident_id)
    clause = readable_by(user)
    if clause is not None and session.scalar(select(Incident.id).where(Incident.id == incident_id, clause)) is None:
        raise Forbidden(f"incident {incident_id} is not one your unit was sent to or bound for your hospital",
                        incident_id=incident_id)
    return incident


def list_open(*, session: Session, city: str | None = None, statuses: tuple[str, ...] = OPEN_STATUSES,
              limit: int = 500, user: Principal | None = None) -> list[Incident]:
    """Incidents in `statuses` (open ones by default), oldest first; only those `user` may read when given."""
    q = select(Incident).where(Incident.status.in_(statuses)).order_by(Incident.received_at, Incident.id)
    clause = readable_by(user) if user is not None else None
    if clause is not None:
        q = q.where(clause)
    if city is not None:
        q = q.where(Incident.city == city)
    return list(session.scalars(q.limit(limit)))


def priorities(*, session: Session, incident_ids: set[int]) -> dict[int, int | None]:
    """Priority of each incident id asked."""
    if not incident_ids:
        return {}
    rows = session.execute(select(Incident.id, Incident.priority).where(Incident.id.in_(incident_ids)))
    return {i: p for i, p in rows}


def patients(*, session: Session, incident_id: int) -> list[Patient]:
    """The incident's patients, in the order they were added."""
    return list(session.scalars(select(Patient).where(Patient.incident_id == incident_id).order_by(Patient.id)))


def active_assignments(*, session: Session, incident_id: int) -> list[Assignment]:
    """Units currently assigned to the incident."""
    q = select(Assignment).where(Assignment.incident_id == incident_id, Assignment.ended_at.is_(None))
    return list(session.scalars(q.order_by(Assignment.id)))


def assignments(*, session: Session, incident_id: int) -> list[Assignment]:
    """Every assignment the incident ever had."""
    return list(session.scalars(select(Assignment).where(Assignment.incident_id == incident_id)
                                .order_by(Assignment.id)))


def active_assignment_of_unit(*, session: Session, unit_id: int) -> Assignment | None:
    """The unit's current assignment, or None."""
    q = select(Assignment).where(Assignment.unit_id == unit_id, Assignment.ended_at.is_(None))
    return session.scalars(q.order_by(Assignment.id.desc())).first()


def bound_for(*, session: Session, hospital_id: int) -> list[Incident]:
    """Open incidents whose destination is this hospital, oldest first."""
    q = select(Incident).where(Incident.destination_hospital_id == hospital_id, Incident.status.in_(OPEN_STATUSES))
    return list(session.scalars(q.order_by(Incident.received_at, Incident.id)))


def unit_states(*, session: Session, city: str) -> list[UnitState]:
    """Every unit of `city` as dispatch sees it, with its station and the priority of the call it is on.

    One plain-row query (no ORM objects): this runs on every recommendation, over hundreds of units."""
    q = (select(Unit.id, Unit.call_sign, Unit.type, Unit.status, Unit.lat, Unit.lon, Unit.position_at,
                Unit.incident_id, Station.id, Station.lat, Station.lon, Incident.priority)
         .join(Station, Station.id == Unit.station_id)
         .outerjoin(Incident, Incident.id == Unit.incident_id)
         .where(Unit.city == city).order_by(Unit.id))
    stations: dict[int, LatLon] = {}
    out = []
    for uid, sign, typ, status, lat, lon, at, incident_id, sid, slat, slon, prio in session.execute(q):
        home = stations.get(sid) or stations.setdefault(sid, LatLon(slat, slon))
        position = LatLon(lat, lon) if lat is not None and lon is not None else None
        out.append(UnitState(uid, sign, UnitType(typ), UnitStatus(status), home, position, at, incident_id,
                             prio))
    return out


# A new call in one statement (PostgreSQL): the incident, its patients, its time nodes and its live-stream messages,
# and the NOTIFY that wakes the stream readers, each row as the session path writes it (`flows.create_incident`,
# `timeline.repo.append_many`, `events._write_pending`). Run in autocommit it is its own transaction: one round trip.
# A taken Idempotency-Key inserts nothing (ON CONFLICT waits for a concurrent insert of the same key to commit or
# roll back) and returns no row. Nodes and messages come as one JSON array each (psycopg's text arrays escape every
# element with a regex, slower than the rest of the call). The stream payloads get their ids here: a time node's
# message its node's id and the incident id, the incident's message the incident id. Rows go in in the order given.
_INSERT_CALL = """
WITH i AS (
  INSERT INTO incident (city, lat, lon, address, caller_number, complaint, protocol_version, answers, determinant,
                        priority, pathways, status, received_at, closed_at, destination_hospital_id,
                        idempotency_key, created_by, version)
  VALUES (%(city)s, %(lat)s, %(lon)s, %(address)s, %(caller_number)s, %(complaint)s, %(protocol_version)s,
          %(answers)s::json, %(determinant)s::json, %(priority)s, %(pathways)s::json, %(status)s, %(at)s, NULL, NULL,
          %(key)s, %(actor)s, %(version)s)
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id
), p AS (
  INSERT INTO patient (incident_id, label)
  SELECT i.id, 'P' || n FROM i CROSS JOIN generate_series(1, %(patients)s) AS n ORDER BY n
), t AS (
  INSERT INTO timeline_event (kind, at, incident_id, actor, source, payload, recorded_at)
  SELECT v.e->>'kind', (v.e->>'at')::timestamptz, i.id, v.e->>'actor', v.e->>'source', v.e->'payload', %(at)s
  FROM i CROSS JOIN json_array_elements(%(nodes)s::json) WITH ORDINALITY AS v(e, n)
  ORDER BY v.n
  RETURNING id, kind
), s AS (
  INSERT INTO stream_event (kind, payload, at)
  SELECT m.e->>'kind', ((m.e->'payload')::jsonb
                        || CASE WHEN t.id IS NULL THEN jsonb_build_object('id', i.id)
                           ELSE jsonb_build_object('id', t.id, 'incident_id', i.id) END)::json, %(at)s
  FROM i CROSS JOIN json_array_elements(%(messages)s::json) WITH ORDINALITY AS m(e, n)
  LEFT JOIN t ON t.kind = m.e->>'node'
  ORDER BY m.n
)
SELECT i.id, pg_notify(%(channel)s, '') FROM i
"""


def _check_call_nodes(nodes: list[TimelineEvent]) -> None:
    """A new call's time nodes as the direct writes expect them: distinct kinds (a stream message finds its node by
    kind), none about a patient or unit, none correcting another."""
    kinds = [e.kind.value for e in nodes]
    assert len(set(kinds)) == len(kinds) and not any(e.patient_id or e.unit_id or e.supersedes for e in nodes)


def insert_call_pg(connection: Any, *, incident: Incident, patients: int, nodes: list[TimelineEvent],
                   messages: list[events.DomainEvent]) -> int | None:
    """Write a new call in one statement and transaction on a PostgreSQL (psycopg) DB-API connection; returns the
    incident id, or None when an incident with its Idempotency-Key exists. `messages` are the stream messages in
    order, a time node's named "timeline.<kind>" (node kinds are distinct within a call)."""
    params = call_params(incident=incident, patients=patients, nodes=nodes, messages=messages)
    autocommit = connection.autocommit
    connection.autocommit = True
    try:
        with connection.cursor() as cur:
            cur.execute(_INSERT_CALL, params)
            row = cur.fetchone()
    finally:
        connection.autocommit = autocommit
    return int(row[0]) if row is not None else None


async def insert_call_pg_async(pool: StatementPool, *, incident: Incident, patients: int,
                               nodes: list[TimelineEvent], messages: list[events.DomainEvent]) -> int | None:
    """`insert_call_pg` on the event loop, through a pool of autocommit connections."""
    row = await pool.fetchone(_INSERT_CALL, call_params(incident=incident, patients=patients, nodes=nodes,
                                                        messages=messages))
    return int(row[0]) if row is not None else None


_SQLITE_INCIDENT = """
INSERT INTO incident (city, lat, lon, address, caller_number, complaint, protocol_version, answers, determinant,
                      priority, pathways, status, received_at, closed_at, destination_hospital_id, idempotency_key,
                      created_by, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id
"""
_SQLITE_NODE = ("INSERT INTO timeline_event (kind, at, incident_id, actor, source, payload, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")


def insert_call_sqlite(connection: Any, *, incident: Incident, patients: int, nodes: list[TimelineEvent],
                       messages: list[events.DomainEvent]) -> int | None:
    """Write a new call on a raw sqlite3 connection holding the process's write lock (`db.sqlite_writer`) and commit:
    the rows `insert_call_pg` writes, with SQLite's stream numbering (`seq = id`, as `events._write_pending`), as
    plain DB-API statements (SQLAlchemy's execution of the same statements cost more than the rest of the request).
    Returns the incident id, or None (nothing written) when its Idempotency-Key is taken."""
    _check_call_nodes(nodes)
    dumps, stamp = json.dumps, _sqlite_datetime
    at = stamp(incident.received_at)
    try:
        row = connection.execute(_SQLITE_INCIDENT, (
            incident.city, incident.lat, incident.lon, incident.address, incident.caller_number, incident.complaint,
            incident.protocol_version, dumps(incident.answers),
            dumps(incident.determinant) if incident.determinant is not None else None, incident.priority,
            dumps(incident.pathways), incident.status, at, incident.idempotency_key, incident.created_by,
            incident.version)).fetchone()
        if row is None:
            connection.rollback()
            return None
        incident_id = int(row[0])
        connection.executemany("INSERT INTO patient (incident_id, label) VALUES (?, ?)",
                               [(incident_id, f"P{n + 1}") for n in range(patients)])
        node_ids = {e.kind.value: int(connection.execute(_SQLITE_NODE, (
            e.kind.value, stamp(e.at), incident_id, e.actor, e.source.value, dumps(e.payload), at)).fetchone()[0])
            for e in nodes}
        rows = []
        for m in messages:
            node = m.kind.removeprefix("timeline.") if m.kind.startswith("timeline.") else None
            ids = {"id": node_ids[node], "incident_id": incident_id} if node is not None else {"id": incident_id}
            rows.append((m.kind, dumps({**m.payload, **ids}), stamp(m.at)))
        connection.executemany("INSERT INTO stream_event (kind, payload, at, seq) VALUES (?, ?, ?, NULL)", rows)
        connection.execute("UPDATE stream_event SET seq = id WHERE seq IS NULL")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return incident_id


_SQLITE_DIALECT = sqlite_dialect.dialect()
# A datetime as SQLAlchemy's SQLite DateTime stores it (its fields as text; everything stored is UTC).
_sqlite_datetime: Callable[[datetime], str] = DateTime(timezone=True).dialect_impl(
    _SQLITE_DIALECT).bind_processor(_SQLITE_DIALECT)  # type: ignore[assignment]


def call_params(*, incident: Incident, patients: int, nodes: list[TimelineEvent],
                messages: list[events.DomainEvent]) -> dict[str, Any]:
    """The parameters of `_INSERT_CALL` for a new call."""
    _check_call_nodes(nodes)
    dumps = json.dumps
    params = {
        "city": incident.city, "lat": incident.lat, "lon": incident.lon, "address": incident.address,
        "caller_number": incident.caller_number, "complaint": incident.complaint,
        "protocol_version": incident.protocol_version, "answers": dumps(incident.answers),
        "determinant": dumps(incident.determinant) if incident.determinant is not None else None,
        "priority": incident.priority, "pathways": dumps(incident.pathways), "status": incident.status,
        "at": incident.received_at, "key": incident.idempotency_key, "actor": incident.created_by,
        "version": incident.version, "patients": patients,
        "nodes": dumps([{"kind": e.kind.value, "at": e.at.isoformat(), "actor": e.actor, "source": e.source.value,
                         "payload": e.payload} for e in nodes]),
        "messages": dumps([{"kind": m.kind, "payload": m.payload,
                            "node": m.kind.removeprefix("timeline.") if m.kind.startswith("timeline.") else None}
                           for m in messages]),
        "channel": events.CHANNEL,
    }
    return params
