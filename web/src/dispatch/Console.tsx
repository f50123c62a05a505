// The dispatcher console: queue, call taking and triage, map, recommendation, unit board, timeline, live stream.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ServerProblems } from '../app/ServerProblems';
import { fmtDuration, useNow, useStream } from '../app/stream';
import type { Me } from '../auth/session';
import { listUnits, type Unit } from '../fleet/api';
import { statusColor } from '../fleet/status';
import { UnitBoard } from '../fleet/UnitBoard';
import { MapView, type MapLine, type MapPoint } from '../geo/MapView';
import { listHospitals, type Hospital } from '../hospitals/api';
import { LangSwitch, pick, useI18n } from '../i18n';
import { incidentResponse, listAeds, ROLE_COLOR, type Aed, type Response } from '../volunteers/api';
import { label, RESPONDER_ROLE } from '../i18n/labels';
import {
  cancelIncident, getProtocol, getTimeline, listIncidents, PRIORITY_COLOR, queueOrder,
  type Incident, type ProtocolSpec, type TimelineItem, type TriageState,
} from './api';
import { CallTaking, isTyping, Triage, type Pin } from './CallTaking';
import { Help } from './Help';
import { IncidentPanel } from './IncidentPanel';

export function Console({ me, city, onSignOut }: { me: Me; city: string; onSignOut: () => void }) {
  const { t, lang } = useI18n();
  const now = useNow();
  const [incidents, setIncidents] = useState<Incident[]>([]);
  const [units, setUnits] = useState<Unit[]>([]);
  const [hospitals, setHospitals] = useState<Hospital[]>([]);
  const [aeds, setAeds] = useState<Aed[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  const [calling, setCalling] = useState(true);
  const [pin, setPin] = useState<Pin | null>(null);
  const [triage, setTriage] = useState<TriageState | null>(null);
  const [timeline, setTimeline] = useState<TimelineItem[]>([]);
  const [response, setResponse] = useState<Response | null>(null);
  const [spec, setSpec] = useState<ProtocolSpec | null>(null);
  const [help, setHelp] = useState(false);
  const [version, setVersion] = useState(0);
  const [caughtUp, setCaughtUp] = useState(false);
  const dispatchFn = useRef<(() => void) | null>(null);

  const queue = useMemo(() => queueOrder(incidents), [incidents]);
  const incident = incidents.find((i) => i.id === selected) ?? null;

  const refresh = useCallback(async () => {
    const [inc, un] = await Promise.allSettled([listIncidents(), listUnits()]);
    if (inc.status === 'fulfilled') setIncidents(inc.value);
    if (un.status === 'fulfilled') setUnits(un.value);
    setVersion((v) => v + 1);
  }, []);

  useEffect(() => {
    void refresh();
    listHospitals().then(setHospitals).catch(() => undefined);
    getProtocol().then(setSpec).catch(() => undefined);
  }, [refresh]);
  useEffect(() => {
    if (city) listAeds(city).then(setAeds).catch(() => undefined);
  }, [city]);

  // Detail of the selected incident; refreshed with every change the stream reports.
  useEffect(() => {
    if (selected === null) return;
    let live = true;
    getTimeline(selected).then((x) => live && setTimeline(x)).catch(() => live && setTimeline([]));
    incidentResponse(selected).then((x) => live && setResponse(x));
    return () => {
      live = false;
    };
  }, [selected, version]);

  // Volunteers' positions move without timeline events: while the response runs, refetch it now and then.
  const responding = response?.active ?? false;
  useEffect(() => {
    if (selected === null || !responding) return;
    const id = setInterval(() => void incidentResponse(selected).then((x) => x && setResponse(x)), 10000);
    return () => clearInterval(id);
  }, [selected, responding]);

  // A call that left the queue (closed, cancelled elsewhere) hands the panel back to call taking.
  useEffect(() => {
    if (selected !== null && !calling && version > 0 && !incidents.some((i) => i.id === selected)) {
      setSelected(null);
      setTriage(null);
      setCalling(true);
    }
  }, [incidents, selected, calling, version]);

  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onEvent = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void refresh(), 150);
  }, [refresh]);
  const onReconnect = useCallback(() => {
    void refresh().then(() => {
      setCaughtUp(true);
      setTimeout(() => setCaughtUp(false), 4000);
    });
  }, [refresh]);
  const connected = useStream(onEvent, onReconnect);

  const select = (id: number | null) => {
    setSelected(id);
    setResponse(null);
    setTimeline([]);
    const inc = incidents.find((i) => i.id === id);
    // Re-opening a call shows where its triage stands (complaint and answers are kept on the incident).
    setTriage(inc ? { complaint: inc.complaint ?? null, answers: (inc.raw.answers ?? {}) as TriageState['answers'], nextQuestions: [], determinant: (inc.raw.determinant ?? undefined) as TriageState['determinant'] } : null);
    setCalling(id === null);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setHelp(false);
        return;
      }
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const idx = queue.findIndex((i) => i.id === selected);
      if (e.key === '?') setHelp((h) => !h);
      else if (e.key === 'n' || e.key === 'N') {
        select(null);
        setPin(null);
      } else if (e.key === 'd' || e.key === 'D') dispatchFn.current?.();
      else if ((e.key === 'j' || e.key === 'ArrowDown') && queue.length) select(queue[Math.min(idx + 1, queue.length - 1)].id);
      else if ((e.key === 'k' || e.key === 'ArrowUp') && queue.length) select(queue[Math.max(idx - 1, 0)].id);
      else if ((e.key === 'x' || e.key === 'X') && incident) {
        const reason = prompt(t('cancel_reason'));
        if (reason) void cancelIncident(incident.id, reason).then(refresh);
      } else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  const points = useMemo<MapPoint[]>(() => {
    const pts: MapPoint[] = [];
    const fetching = new Set(response?.responders.filter((r) => r.aed_id && ['alerted', 'accepted'].includes(r.state)).map((r) => r.aed_id));
    for (const h of hospitals) pts.push({ id: `h${h.id}`, lat: h.lat, lon: h.lon, color: h.diversion ? '#9e9e9e' : '#1565c0', shape: 'cross', size: 16, label: h.diversion ? `${h.name} ⛔ ${t('diversion')}` : h.name, title: h.diversion ? `${h.name}: ${t('diversion')} ${h.diversionReason ?? ''}` : h.name });
    for (const a of aeds) pts.push({ id: `a${a.id}`, lat: a.lat, lon: a.lon, color: a.accessible ? '#00897b' : '#b0bec5', shape: 'diamond', size: fetching.has(a.id) ? 14 : 9, label: fetching.has(a.id) ? 'AED' : undefined, title: 'AED' });
    for (const i of queue) pts.push({ id: `i${i.id}`, lat: i.lat, lon: i.lon, color: PRIORITY_COLOR(i.priority), shape: 'square', size: i.id === selected ? 20 : 15, label: `#${i.id}${i.determinant ? ` ${i.determinant}` : ''}`, pulse: i.suspectedArrest, testid: `map-incident-${i.id}` });
    // Units at the same place (a station) share one marker labelled with every call sign.
    const byPlace = new Map<string, Unit[]>();
    for (const u of units) {
      const key = `${u.lat.toFixed(4)},${u.lon.toFixed(4)},${u.status}`;
      byPlace.set(key, [...(byPlace.get(key) ?? []), u]);
    }
    for (const group of byPlace.values()) {
      const u = group[0];
      const names = group.map((x) => x.callsign).join(' ');
      pts.push({ id: `u${group.map((x) => x.id).join('-')}`, lat: u.lat, lon: u.lon, color: statusColor(u.status), label: names, title: `${names}: ${pick(u.statusLabel, lang) ?? u.status}`, testid: `map-unit-${u.callsign}` });
    }
    // The alerted volunteers where they were last seen (the server sends positions only while they respond).
    for (const r of response?.responders ?? []) {
      if (!r.position) continue;
      const role = r.accepted_role ?? r.role;
      const name = r.name ?? `#${r.responder_id}`;
      pts.push({ id: `r${r.responder_id}`, lat: r.position.lat, lon: r.position.lon, color: ROLE_COLOR[role] ?? '#444', size: 12, label: `${name} · ${label(RESPONDER_ROLE, role, lang)}`, title: `${name}: ${label(RESPONDER_ROLE, role, lang)}`, testid: `map-responder-${r.responder_id}` });
    }
    if (pin && calling) pts.push({ id: 'pin', lat: pin.lat, lon: pin.lon, color: '#000', shape: 'square', size: 12, label: '✚', pulse: true });
    return pts;
  }, [hospitals, aeds, queue, response, units, pin, calling, selected, t, lang]);

  const lines = useMemo<MapLine[]>(() => {
    if (!incident || !response) return [];
    // The walking route of each volunteer on the way (to the patient, or via the AED), in the colour of their role.
    const routes = response.responders
      .filter((r) => r.route.length > 1)
      .map((r) => ({ id: `route-r${r.responder_id}`, coordinates: r.route.map((p) => [p[0], p[1]] as [number, number]), color: ROLE_COLOR[r.accepted_role ?? r.role] ?? '#444' }));
    // Which AED an alerted AED runner would fetch, until they are on the way: a link AED -> patient.
    const links = response.responders
      .filter((r) => r.aed_id && r.route.length < 2 && ['alerted', 'accepted', 'arrived'].includes(r.state))
      .map((r) => aeds.find((a) => a.id === r.aed_id))
      .filter((a): a is Aed => !!a)
      .map((a) => ({ id: `aed${a.id}`, coordinates: [[a.lon, a.lat], [incident.lon, incident.lat]] as [number, number][], color: ROLE_COLOR.aed }));
    return [...routes, ...links];
  }, [incident, response, aeds]);

  return (
    <div className="console" data-testid="console">
      <header className="topbar">
        <b>{t('app_name')} · {t('console')}</b>
        <span className={`stream ${connected === false ? 'down' : 'up'}`} data-testid="stream-state" data-connected={String(connected)}>
          {connected === false ? t('stream_down') : caughtUp ? t('stream_caught_up') : '●'}
        </span>
        <span className="spacer" />
        <button onClick={() => { select(null); setPin(null); }} data-testid="new-call">{t('new_call')} <kbd>N</kbd></button>
        <button onClick={() => setHelp(true)} data-testid="help-button">{t('help')} <kbd>?</kbd></button>
        <LangSwitch />
        <span className="muted small">{me.display_name ?? me.username}</span>
        <button onClick={onSignOut}>{t('logout')}</button>
      </header>
      <div className="banners">
        {connected === false && <div className="banner-down" role="alert" data-testid="stream-down">{t('stream_down')}</div>}
        <ServerProblems />
      </div>
      <aside className="left">
        <section className="panel queue" data-testid="queue">
          <h2>{t('queue')} ({queue.length})</h2>
          {queue.length === 0 && <div className="muted">{t('queue_empty')}</div>}
          <ul>
            {queue.map((i) => (
              <li key={i.id} className={i.id === selected ? 'sel' : ''} data-testid={`queue-${i.id}`} onClick={() => select(i.id)}>
                <span className="prio" style={{ background: PRIORITY_COLOR(i.priority) }}>{i.priority === null ? '?' : `P${i.priority}`}</span>
                <span className="grow">#{i.id} {i.determinant ?? ''} {i.suspectedArrest && <span className="arrest-badge small">{t('arrest')}</span>}
                  {units.some((u) => u.incidentId === i.id) && <span className="muted small"> · {units.filter((u) => u.incidentId === i.id).map((u) => u.callsign).join(', ')}</span>}</span>
                <span className="mono clock">{fmtDuration((now - Date.parse(i.callAt)) / 1000)}</span>
              </li>
            ))}
          </ul>
        </section>
        <UnitBoard units={units} />
      </aside>
      <main className="center">
        {city && <MapView city={city} points={points} lines={lines} onPick={calling ? (lat, lon) => setPin({ lat, lon }) : undefined} focus={incident ? { lat: incident.lat, lon: incident.lon } : null} />}
      </main>
      <aside className="right">
        {calling && <CallTaking city={city} pin={pin} setPin={setPin} onCreated={(inc) => {
          setIncidents((xs) => [...xs.filter((x) => x.id !== inc.id), inc]);
          setSelected(inc.id);
          setTriage({ complaint: null, answers: {}, nextQuestions: [] });
          setCalling(false);
          setPin(null);
        }} />}
        {incident && triage && spec && <Triage incident={incident} spec={spec} state={triage} setState={(tr) => { setTriage(tr); void refresh(); }} />}
        {incident && (
          <IncidentPanel incident={incident} units={units} timeline={timeline} response={response} version={version} onChanged={refresh}
            registerDispatch={(fn) => { dispatchFn.current = fn; }} />
        )}
      </aside>
      {help && <Help onClose={() => setHelp(false)} />}
    </div>
  );
}
