// The volunteer first responder's phone app: on-duty toggle, alert (sound + vibration), accept/decline, route,
// arrived / CPR / AED / shock, stand-down. It shows only what MyAlertOut carries: the place, the nature of the
// call, the role and the route: no caller number, no patient name, no medical details (privacy rule).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { usePoll, useStream } from '../app/stream';
import { API } from '../api/client';
import type { Me } from '../auth/session';
import { MapView, type MapLine, type MapPoint } from '../geo/MapView';
import { LangSwitch, useI18n, type Key } from '../i18n';
import { label, NATURE } from '../i18n/labels';
import { type Action, alertAction, getDuty, heartbeat, myAlert, myAlerts, setDuty, setLocation, subscribePush, type MyAlert } from './api';

const ACTIONS: [Action, Key][] = [
  ['aed_collected', 'aed_collected'],
  ['arrived', 'arrived'],
  ['cpr_started', 'cpr_started'],
  ['aed_attached', 'aed_attached'],
  ['shock_delivered', 'shock_delivered'],
];
const RESPONDING = new Set(['accepted', 'arrived']);
/** My own messages (alert, role, not_needed, stood_down) as server-sent events. */
const MY_STREAM = `${API}/volunteers/me/stream`;
/** While the stream is down, the alerts are polled this often instead. */
const FALLBACK_POLL_MS = 10000;

export function VolunteerApp({ me, city, onSignOut }: { me: Me; city: string; onSignOut: () => void }) {
  const { t, lang } = useI18n();
  const [onDuty, setOnDuty] = useState<boolean | null>(null);
  const [alert, setAlert] = useState<MyAlert | null>(null);
  const [stoodDown, setStoodDown] = useState(false);
  const [done, setDone] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [pos, setPos] = useState<{ lat: number; lon: number } | null>(null);
  const rung = useRef(new Set<number>());
  const current = useRef<MyAlert | null>(null);
  current.current = alert;
  // Answers of a poll that started before the volunteer's last tap are stale: they are dropped.
  const epoch = useRef(0);
  const polling = useRef(false);

  const refresh = useCallback(async () => {
    if (polling.current) return;
    polling.current = true;
    const started = epoch.current;
    try {
      const list = await myAlerts();
      if (started !== epoch.current) return;
      const prev = current.current;
      const next = list.find((a) => a.incident_id === prev?.incident_id) ?? list.find((a) => a.state === 'alerted' || RESPONDING.has(a.state)) ?? null;
      if (!next && prev && RESPONDING.has(prev.state)) {
        // The response ended for me while I was on the way or on scene: I have been stood down.
        setStoodDown(true);
      }
      if (next && (!prev || prev.incident_id !== next.incident_id || prev.state !== next.state || !next.route.length)) {
        // Ask for the one alert to get the walking route (the list leaves it out).
        const full = await myAlert(next.incident_id).catch(() => next);
        if (started !== epoch.current) return;
        setAlert(full);
      } else if (!next) {
        setAlert(null);
      }
      if (next) setStoodDown(false);
      setError(null);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    } finally {
      polling.current = false;
    }
  }, [t]);

  useEffect(() => {
    getDuty().then(setOnDuty).catch(() => setOnDuty(false));
    void refresh();
    const id = navigator.geolocation?.watchPosition((p) => setPos({ lat: p.coords.latitude, lon: p.coords.longitude }), () => undefined);
    return () => {
      if (id !== undefined) navigator.geolocation?.clearWatch(id);
    };
  }, [refresh]);
  // Alerts arrive over my live stream; each message (alert, role, not needed, stood down) refetches my alerts,
  // and a reconnect catches up. Only while the stream is down does a slow poll stand in for it.
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const onMessage = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void refresh(), 100);
  }, [refresh]);
  const onReconnect = useCallback(() => void refresh(), [refresh]);
  const connected = useStream(onMessage, onReconnect, MY_STREAM);
  usePoll(() => void (connected !== true && refresh()), FALLBACK_POLL_MS);
  // Web Push too, so an alert reaches the phone with the app closed (when the server has VAPID keys).
  useEffect(() => {
    if (onDuty) void subscribePush({ ask: false }).catch(() => undefined);
  }, [onDuty]);
  useEffect(() => {
    if (pos && onDuty) void setLocation(pos.lat, pos.lon).then(heartbeat).catch(() => undefined);
  }, [pos?.lat, pos?.lon, onDuty]);
  // While on duty the phone says it is alive, or the volunteer stops being alertable.
  usePoll(() => void (onDuty && heartbeat().catch(() => undefined)), 30000);
  useEffect(() => {
    if (alert?.state === 'alerted' && !rung.current.has(alert.incident_id)) {
      rung.current.add(alert.incident_id);
      ring();
    }
  }, [alert?.incident_id, alert?.state]);

  const act = async (action: Action) => {
    if (!alert) return;
    setError(null);
    epoch.current += 1;
    try {
      const next = await alertAction(alert.incident_id, action);
      epoch.current += 1;
      setDone((d) => new Set(d).add(`${alert.incident_id}:${action}`));
      if (next) setAlert(await myAlert(next.incident_id).catch(() => next));
      else setAlert(null);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  const toggleDuty = async () => {
    try {
      const next = !onDuty;
      await setDuty(next);
      setOnDuty(next);
      if (next && pos) await setLocation(pos.lat, pos.lon);
      if (next) await heartbeat();
      if (next) void subscribePush({ ask: true }).catch(() => undefined);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };

  const responding = alert && RESPONDING.has(alert.state);
  const points = useMemo<MapPoint[]>(() => {
    const pts: MapPoint[] = [];
    if (alert) pts.push({ id: 'patient', lat: alert.location.lat, lon: alert.location.lon, color: '#c62828', shape: 'square', size: 18, pulse: true, label: label(NATURE, alert.nature, lang) });
    if (alert?.aed) pts.push({ id: 'aed', lat: alert.aed.lat, lon: alert.aed.lon, color: '#00897b', shape: 'diamond', size: 14, label: 'AED' });
    if (pos) pts.push({ id: 'me', lat: pos.lat, lon: pos.lon, color: '#0277bd', size: 12 });
    return pts;
  }, [alert, pos, lang]);
  const lines = useMemo<MapLine[]>(() => (alert && alert.route.length > 1 ? [{ id: 'route', coordinates: alert.route, color: '#0277bd' }] : []), [alert]);
  const fitTo = useMemo<[number, number][]>(() => points.map((p) => [p.lon, p.lat] as [number, number]).concat(alert?.route ?? []), [points, alert]);
  const actions = ACTIONS.filter(([a]) => a !== 'aed_collected' || alert?.role === 'aed');

  return (
    <div className="phone volunteer" data-testid="volunteer-app">
      <header className="topbar">
        <b>{t('volunteer_app')}</b>
        <span className={`stream ${connected === false ? 'down' : 'up'}`} data-testid="stream-state" data-connected={String(connected)} title={connected === false ? t('stream_down') : ''}>{connected === false ? '○' : '●'}</span>
        <span className="spacer" />
        <LangSwitch />
        <button onClick={onSignOut}>{t('logout')}</button>
      </header>
      <button className={`duty big ${onDuty ? 'on' : 'off'}`} data-testid="duty-toggle" data-on={String(!!onDuty)} onClick={toggleDuty}>
        {onDuty ? t('on_duty') : t('off_duty')}
      </button>
      {stoodDown && <div className="standdown" role="status" data-testid="stood-down">{t('stood_down')}</div>}
      {!alert && !stoodDown && <p className="muted pad" data-testid="no-alert">{t('no_alert')}</p>}
      {alert && (
        <section className="alert-card" data-testid="alert" data-state={alert.state} data-role={alert.role}>
          <h2>{label(NATURE, alert.nature, lang) || t('alert_title')}</h2>
          <div className="alert-facts">
            {alert.address && <div>{t('address')}: <b>{alert.address}</b></div>}
            <div data-testid="alert-role"><b>{alert.role === 'aed' && alert.aed ? t('go_aed') : t('go_patient')}</b></div>
            <div>{t('eta')}: {t('minutes', { n: Math.max(1, Math.round(alert.eta_s / 60)) })}</div>
          </div>
          {!responding ? (
            <div className="two">
              <button className="big primary" data-testid="accept" onClick={() => act('accept')}>{t('accept')}</button>
              <button className="big" data-testid="decline" onClick={() => act('decline')}>{t('decline')}</button>
            </div>
          ) : (
            <div className="grid2">
              {actions.map(([action, label]) => (
                <button key={action} className={`big ${done.has(`${alert.incident_id}:${action}`) ? 'done' : ''}`} data-testid={`act-${action}`} onClick={() => act(action)}>
                  {t(label)}
                </button>
              ))}
            </div>
          )}
        </section>
      )}
      {error && <div className="error pad">{error}</div>}
      {city && alert && <MapView city={city} points={points} lines={lines} className="phone-map" fitTo={fitTo} mode="walk" />}
      <p className="muted small pad">{me.display_name ?? me.username}</p>
    </div>
  );
}

/** Sound (Web Audio beeps) and vibration, where the browser allows them. */
function ring(): void {
  try {
    navigator.vibrate?.([400, 200, 400, 200, 400]);
  } catch {
    /* not allowed */
  }
  try {
    const ctx = new AudioContext();
    [0, 0.5, 1].forEach((start) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + start);
      osc.stop(ctx.currentTime + start + 0.3);
    });
  } catch {
    /* autoplay policy: the visual alert remains */
  }
}
