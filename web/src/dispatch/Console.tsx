// The dispatcher console: queue, call taking and triage, map, recommendation, unit board, timeline, live stream.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { fmtDuration, useNow, useStream } from '../app/stream';
import type { Me } from '../auth/session';
import { listUnits, type Unit } from '../fleet/api';
import { statusColor, statusKey } from '../fleet/status';
import { UnitBoard } from '../fleet/UnitBoard';
import { MapView, type MapLine, type MapPoint } from '../geo/MapView';
import { listHospitals, type Hospital } from '../hospitals/api';
import { LangSwitch, useI18n } from '../i18n';
import { incidentResponders, listAeds, type Aed, type Responder } from '../volunteers/api';
import {
  getTimeline, getTriage, listIncidents, PRIORITY_COLOR, queueOrder, cancelIncident,
  type Incident, type TimelineItem, type TriageState,
} from './api';
import { CallTaking, isTyping, Triage, type Pin } from './CallTaking';
import { Help } from './Help';
import { IncidentPanel } from './IncidentPanel';

const ROLE_COLOR: Record<string, string> = { cpr: '#0277bd', aed: '#00897b', coordinator: '#5e35b1' };

export function Console({ me, city, onSignOut }: { me: Me; city: string; onSignOut: () => void }) {
  const { t } = useI18n();
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
  const [responders, setResponders] = useState<Responder[]>([]);
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
  }, [refresh]);
  useEffect(() => {
    if (city) listAeds(city).then(setAeds).catch(() => undefined);
  }, [city]);

  // Detail of the selected incident; refreshed with every change the stream reports.
  useEffect(() => {
    if (selected === null) return;
    let live = true;
    getTimeline(selected).then((x) => live && setTimeline(x)).catch(() => live && setTimeline([]));
    incidentResponders(selected).then((x) => live && setResponders(x)).catch(() => live && setResponders([]));
    return () => {
      live = false;
    };
  }, [selected, version]);
  useEffect(() => {
    if (selected !== null && !triage) getTriage(selected).then(setTriage).catch(() => undefined);
  }, [selected]);

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
    setTriage(null);
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
    for (const h of hospitals) pts.push({ id: `h${h.id}`, lat: h.lat, lon: h.lon, color: h.diversion ? '#9e9e9e' : '#1565c0', shape: 'cross', size: 16, label: h.diversion ? `${h.name} ⛔` : h.name, title: h.diversion ? `${h.name}: ${t('diversion')}` : h.name });
    for (const a of aeds) pts.push({ id: `a${a.id}`, lat: a.lat, lon: a.lon, color: '#00897b', shape: 'diamond', size: 10, title: `AED ${a.name ?? ''}` });
    for (const i of queue) pts.push({ id: `i${i.id}`, lat: i.lat, lon: i.lon, color: PRIORITY_COLOR(i.priorityRank), shape: 'square', size: i.id === selected ? 20 : 16, label: `#${i.id}${i.determinant ? ` ${i.determinant}` : ''}`, pulse: i.arrest, testid: `map-incident-${i.id}` });
    for (const r of responders) pts.push({ id: `r${r.id}`, lat: r.lat, lon: r.lon, color: ROLE_COLOR[r.role ?? ''] ?? '#0277bd', size: 11, label: r.role, title: `${r.role ?? ''} ${r.status}` });
    for (const u of units) pts.push({ id: `u${u.id}`, lat: u.lat, lon: u.lon, color: statusColor(u.status), label: u.callsign, title: `${u.callsign}: ${t(statusKey(u.status))}`, testid: `map-unit-${u.callsign}` });
    if (pin && calling) pts.push({ id: 'pin', lat: pin.lat, lon: pin.lon, color: '#000', shape: 'square', size: 12, label: '✚', pulse: true });
    return pts;
  }, [hospitals, aeds, queue, responders, units, pin, calling, selected, t]);

  const lines = useMemo<MapLine[]>(
    () => responders.filter((r) => r.route.length > 1).map((r) => ({ id: `r${r.id}`, coordinates: r.route, color: ROLE_COLOR[r.role ?? ''] ?? '#0277bd' })),
    [responders],
  );

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
      {connected === false && <div className="banner-down" role="alert" data-testid="stream-down">{t('stream_down')}</div>}
      <aside className="left">
        <section className="panel queue" data-testid="queue">
          <h2>{t('queue')} ({queue.length})</h2>
          {queue.length === 0 && <div className="muted">{t('queue_empty')}</div>}
          <ul>
            {queue.map((i) => (
              <li key={i.id} className={i.id === selected ? 'sel' : ''} data-testid={`queue-${i.id}`} onClick={() => select(i.id)}>
                <span className="prio" style={{ background: PRIORITY_COLOR(i.priorityRank) }}>{i.priority || '?'}</span>
                <span className="grow">#{i.id} {i.determinant ?? ''} {i.arrest && <span className="arrest-badge small">{t('arrest')}</span>}</span>
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
        {calling && <CallTaking city={city} pin={pin} setPin={setPin} onCreated={(inc, tr) => {
          setIncidents((xs) => [...xs.filter((x) => x.id !== inc.id), inc]);
          setSelected(inc.id);
          setTriage(tr);
          setCalling(false);
          setPin(null);
        }} />}
        {incident && triage && <Triage incidentId={incident.id} triage={triage} callAt={incident.callAt} setTriage={(tr) => { setTriage(tr); void refresh(); }} />}
        {incident && (
          <IncidentPanel incident={incident} units={units} timeline={timeline} responders={responders} version={version} onChanged={refresh}
            registerDispatch={(fn) => { dispatchFn.current = fn; }} />
        )}
      </aside>
      {help && <Help onClose={() => setHelp(false)} />}
    </div>
  );
}
