// The ambulance crew's app: current assignment with route, one-tap statuses in order (big, glove-friendly),
// patient contact, destination hospital, and the pre-hospital ECG (photo or PDF) attached to the incident.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { API, post } from '../api/client';
import { ALERTING_PROBLEMS, ServerProblems } from '../app/ServerProblems';
import { usePoll } from '../app/stream';
import type { Me } from '../auth/session';
import { getIncident, type Incident } from '../dispatch/api';
import { routeBetween } from '../geo/api';
import { MapView, type MapLine, type MapPoint } from '../geo/MapView';
import { listHospitals, type Hospital } from '../hospitals/api';
import { LangSwitch, pick, useI18n } from '../i18n';
import { getUnit, listUnits, setUnitStatus, type Unit } from './api';
import { attachFile } from './attachments';
import { CREW_NEXT, statusColor, statusKey } from './status';

export function CrewApp({ me, city, onSignOut }: { me: Me; city: string; onSignOut: () => void }) {
  const { t, lang } = useI18n();
  const [unitId, setUnitId] = useState<number | null>(() => (me.unit_id ? Number(me.unit_id) : Number(new URLSearchParams(location.search).get('unit')) || null));
  const [unit, setUnit] = useState<Unit | null>(null);
  const [units, setUnits] = useState<Unit[]>([]);
  const [incident, setIncident] = useState<Incident | null>(null);
  const [route, setRoute] = useState<[number, number][]>([]);
  const [hospitals, setHospitals] = useState<Hospital[]>([]);
  const [attached, setAttached] = useState<string | null>(null);
  const [contact, setContact] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(async () => {
    try {
      if (unitId) {
        const u = await getUnit(unitId);
        setUnit(u);
        setIncident(u.incidentId ? await getIncident(u.incidentId) : null);
      } else {
        setUnits(await listUnits());
      }
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  }, [unitId, t]);
  useEffect(() => {
    void refresh();
    listHospitals().then(setHospitals).catch(() => undefined);
  }, [refresh]);
  usePoll(() => void refresh(), 2000);

  const hospital = hospitals.find((h) => h.id === incident?.destinationHospitalId) ?? null;
  const target = unit && ['transporting', 'at_hospital'].includes(unit.status) && hospital ? hospital : incident;
  useEffect(() => {
    if (!unit || !target || !Number.isFinite(unit.lat) || !city) {
      setRoute([]);
      return;
    }
    let live = true;
    routeBetween(city, unit, target).then((r) => live && setRoute(r));
    return () => {
      live = false;
    };
  }, [unit?.id, unit?.status, Math.round((unit?.lat ?? 0) * 1e4), Math.round((unit?.lon ?? 0) * 1e4), target?.lat, target?.lon, city]);

  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      await refresh();
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  const tap = (status: string) => run(() => setUnitStatus(unit!.id, status, status === 'transporting' ? incident?.destinationHospitalId : undefined));
  const recordContact = () =>
    run(async () => {
      await post(`${API}/incidents/${incident!.id}/timeline`, { kind: 'at_patient', unit_id: unit?.id, source: 'crew_app' });
      setContact(true);
    });
  const chooseHospital = (id: number) => run(() => post(`${API}/incidents/${incident!.id}/destination`, { hospital_id: id, prenotify: true }));
  const attach = (file: File) =>
    run(async () => {
      await attachFile(incident!.id, file, 'prehospital_ecg', unit?.id);
      setAttached(file.name);
    });

  const points = useMemo<MapPoint[]>(() => {
    const pts: MapPoint[] = [];
    if (incident) pts.push({ id: 'inc', lat: incident.lat, lon: incident.lon, color: '#c62828', shape: 'square', size: 18, label: `#${incident.id}` });
    for (const h of hospitals) pts.push({ id: `h${h.id}`, lat: h.lat, lon: h.lon, color: h.diversion ? '#9e9e9e' : '#1565c0', shape: 'cross', label: h.id === hospital?.id ? h.name : undefined, title: h.name });
    if (unit) pts.push({ id: 'unit', lat: unit.lat, lon: unit.lon, color: statusColor(unit.status), size: 16, label: unit.callsign });
    return pts;
  }, [incident, hospitals, unit, hospital]);
  const fitTo = useMemo<[number, number][]>(() => {
    const pts: [number, number][] = [...route];
    if (unit && Number.isFinite(unit.lat)) pts.push([unit.lon, unit.lat]);
    if (target) pts.push([target.lon, target.lat]);
    return pts;
  }, [route, unit?.lat, unit?.lon, target?.lat, target?.lon]);
  const lines = useMemo<MapLine[]>(() => (route.length > 1 ? [{ id: 'route', coordinates: route, color: '#1565c0' }] : []), [route]);

  const head = (
    <header className="topbar">
      <b>{unit ? unit.callsign : t('crew_app')}</b>
      {unit && <span className="status-pill" style={{ background: statusColor(unit.status) }} data-testid="crew-status" data-status={unit.status}>{pick(unit.statusLabel, lang) ?? t(statusKey(unit.status))}</span>}
      <span className="spacer" />
      <LangSwitch />
      <button onClick={onSignOut}>{t('logout')}</button>
    </header>
  );
  const banner = <ServerProblems hide={ALERTING_PROBLEMS} />;
  if (!unitId) {
    return (
      <div className="phone crew" data-testid="crew-app">
        {head}
        {banner}
        <h2 className="pad">{t('choose_unit')}</h2>
        <div className="grid2 pad">
          {units.map((u) => <button key={u.id} className="big" data-testid={`choose-${u.callsign}`} onClick={() => setUnitId(u.id)}>{u.callsign}</button>)}
        </div>
        {error && <div className="error pad">{error}</div>}
      </div>
    );
  }
  const next = unit ? (CREW_NEXT[unit.status] ?? []).filter((s) => incident || !['en_route', 'on_scene', 'transporting', 'at_hospital'].includes(s)) : [];
  return (
    <div className="phone crew" data-testid="crew-app">
      {head}
      {banner}
      <section className="pad">
        <h2>{t('assignment')}</h2>
        {incident ? (
          <div data-testid="assignment" data-incident={incident.id}>
            <b>#{incident.id}</b> {incident.determinant} {incident.suspectedArrest && <span className="arrest-badge">{t('arrest')}</span>}
            {incident.address && <div>{incident.address}</div>}
          </div>
        ) : (
          <div className="muted" data-testid="no-assignment">{t('no_assignment')}</div>
        )}
      </section>
      <div className="statusbar">
        {next.map((s) => (
          <button key={s} className="huge" disabled={busy} style={{ background: statusColor(s) }} data-testid={`to-${s}`} onClick={() => tap(s)}>{t(statusKey(s))}</button>
        ))}
      </div>
      {incident && (
        <section className="pad crew-extra">
          {unit && ['en_route', 'on_scene'].includes(unit.status) && (
            <button className={`big ${contact ? 'done' : ''}`} disabled={busy || contact} data-testid="patient-contact" onClick={recordContact}>{t('patient_contact')}</button>
          )}
          <label>
            {t('hospital_chosen')}
            <select data-testid="hospital" value={incident.destinationHospitalId ?? ''} onChange={(e) => e.target.value && void chooseHospital(Number(e.target.value))}>
              <option value="">{t('choose_hospital')}</option>
              {hospitals.map((h) => <option key={h.id} value={h.id} disabled={h.diversion}>{h.name}{h.diversion ? ` (${t('diversion')})` : ''}</option>)}
            </select>
          </label>
          <label className="file big">
            {t('attach_ecg')}
            <input type="file" accept="image/*,application/pdf" data-testid="ecg-file" onChange={(e) => e.target.files?.[0] && void attach(e.target.files[0])} />
          </label>
          {attached && <div data-testid="ecg-attached">{t('attached', { name: attached })}</div>}
        </section>
      )}
      {error && <div className="error pad">{error}</div>}
      {city && <MapView city={city} points={points} lines={lines} className="phone-map" fitTo={fitTo} />}
    </div>
  );
}
