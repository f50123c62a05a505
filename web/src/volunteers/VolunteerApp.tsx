// The volunteer first responder's phone app: on-duty toggle, alert (sound + vibration), accept/decline, route,
// arrived / CPR / AED / shock, stand-down. It shows the place and the nature of the call only: no caller number,
// no patient name, no medical details (the privacy rule of the volunteer issue).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { usePoll } from '../app/stream';
import type { Me } from '../auth/session';
import { MapView, type MapLine, type MapPoint } from '../geo/MapView';
import { LangSwitch, useI18n, type Key } from '../i18n';
import { alertAction, getDuty, myAlerts, setDuty, type Alert } from './api';

const ACTIONS: [string, Key][] = [
  ['arrived', 'arrived'],
  ['cpr-started', 'cpr_started'],
  ['aed-attached', 'aed_attached'],
  ['shock-delivered', 'shock_delivered'],
];

export function VolunteerApp({ me, city, onSignOut }: { me: Me; city: string; onSignOut: () => void }) {
  const { t } = useI18n();
  const [onDuty, setOnDuty] = useState<boolean | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [done, setDone] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const seen = useRef(new Set<number>());
  const [pos, setPos] = useState<{ lat: number; lon: number } | null>(null);

  const refresh = useCallback(async () => {
    try {
      setAlerts(await myAlerts());
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
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
  // The live stream is the dispatchers'; a phone polls its own alerts.
  usePoll(() => void refresh(), 2000);

  const active = alerts.find((a) => !a.standDown && !/declin|done|closed/.test(a.status)) ?? alerts.find((a) => a.standDown);
  useEffect(() => {
    if (active && !active.standDown && !seen.current.has(active.id)) {
      seen.current.add(active.id);
      ring();
    }
  }, [active?.id]);

  const act = async (action: string, body: Record<string, unknown> = {}) => {
    if (!active) return;
    setError(null);
    try {
      await alertAction(active.id, action, body);
      setDone((d) => new Set(d).add(`${active.id}:${action}`));
      await refresh();
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  const toggleDuty = async () => {
    const next = !onDuty;
    try {
      await setDuty(next, pos?.lat, pos?.lon);
      setOnDuty(next);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };

  const accepted = active && /accept|en_route|arrived|on_scene|cpr|aed|shock/.test(active.status);
  const points = useMemo<MapPoint[]>(() => {
    const pts: MapPoint[] = [];
    if (active) pts.push({ id: 'patient', lat: active.lat, lon: active.lon, color: '#c62828', shape: 'square', size: 18, pulse: !active.standDown, label: t('alert_title') });
    if (active?.aed) pts.push({ id: 'aed', lat: active.aed.lat, lon: active.aed.lon, color: '#00897b', shape: 'diamond', size: 14, label: 'AED' });
    if (pos) pts.push({ id: 'me', lat: pos.lat, lon: pos.lon, color: '#0277bd', size: 12 });
    return pts;
  }, [active, pos, t]);
  const lines = useMemo<MapLine[]>(() => (active && active.route.length > 1 ? [{ id: 'route', coordinates: active.route, color: '#0277bd' }] : []), [active]);

  return (
    <div className="phone volunteer" data-testid="volunteer-app">
      <header className="topbar">
        <b>{t('volunteer_app')}</b>
        <span className="spacer" />
        <LangSwitch />
        <button onClick={onSignOut}>{t('logout')}</button>
      </header>
      <button className={`duty big ${onDuty ? 'on' : 'off'}`} data-testid="duty-toggle" data-on={String(!!onDuty)} onClick={toggleDuty}>
        {onDuty ? t('on_duty') : t('off_duty')}
      </button>
      {!active && <p className="muted pad" data-testid="no-alert">{t('no_alert')}</p>}
      {active?.standDown && <div className="standdown" data-testid="stood-down">{t('stood_down')}</div>}
      {active && !active.standDown && (
        <section className="alert-card" data-testid="alert" data-status={active.status}>
          <h2>{t('alert_title')}</h2>
          <div className="small">
            {active.nature && <div>{t('nature')}: {active.nature}</div>}
            {active.address && <div>{t('address')}: {active.address}</div>}
            {active.distanceM !== undefined && <div>{t('distance')}: {Math.round(active.distanceM)} m</div>}
            {active.role && <div data-testid="alert-role">{active.role === 'aed' ? t('go_aed') : t('go_patient')}</div>}
          </div>
          {!accepted ? (
            <div className="two">
              <button className="big primary" data-testid="accept" onClick={() => act('accept', { lat: pos?.lat, lon: pos?.lon })}>{t('accept')}</button>
              <button className="big" data-testid="decline" onClick={() => act('decline')}>{t('decline')}</button>
            </div>
          ) : (
            <div className="grid2">
              {ACTIONS.map(([action, label]) => (
                <button key={action} className={`big ${done.has(`${active.id}:${action}`) ? 'done' : ''}`} data-testid={`act-${action}`} onClick={() => act(action)}>
                  {t(label)}
                </button>
              ))}
            </div>
          )}
        </section>
      )}
      {error && <div className="error pad">{error}</div>}
      {city && active && <MapView city={city} points={points} lines={lines} className="phone-map" focus={{ lat: active.lat, lon: active.lon }} />}
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
