// The ambulance crew's app: current assignment with route, one-tap statuses in order, patient contact,
// destination hospital and the pre-hospital ECG attached to the incident.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { API, get, post } from '../api/client';
import { usePoll } from '../app/stream';
import type { Me } from '../auth/session';
import { latLon, toIncident, type Incident } from '../dispatch/api';
import { routeCoords } from '../geo/api';
import { MapView, type MapLine, type MapPoint } from '../geo/MapView';
import { listHospitals, type Hospital } from '../hospitals/api';
import { LangSwitch, useI18n } from '../i18n';
import { listUnits, setUnitStatus, type Unit } from './api';
import { CREW_NEXT, statusColor, statusKey } from './status';

export function CrewApp({ me, city, onSignOut }: { me: Me; city: string; onSignOut: () => void }) {
  const { t } = useI18n();
  const [units, setUnits] = useState<Unit[]>([]);
  const [unitId, setUnitId] = useState<number | null>(() => (me.unit_id ? Number(me.unit_id) : Number(new URLSearchParams(location.search).get('unit')) || null));
  const [incident, setIncident] = useState<Incident | null>(null);
  const [route, setRoute] = useState<[number, number][]>([]);
  const [hospitals, setHospitals] = useState<Hospital[]>([]);
  const [hospitalId, setHospitalId] = useState<number | null>(null);
  const [attached, setAttached] = useState<string | null>(null);
  const [contact, setContact] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const unit = units.find((u) => u.id === unitId) ?? null;

  const refresh = useCallback(async () => {
    try {
      setUnits(await listUnits());
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  }, [t]);
  useEffect(() => {
    void refresh();
    listHospitals().then(setHospitals).catch(() => undefined);
  }, [refresh]);
  usePoll(() => void refresh(), 2000);

  useEffect(() => {
    if (!unit?.incidentId) {
      setIncident(null);
      setRoute([]);
      return;
    }
    get<Record<string, unknown>>(`${API}/incidents/${unit.incidentId}`).then((r) => setIncident(toIncident(r))).catch(() => undefined);
  }, [unit?.incidentId]);
  useEffect(() => {
    if (!unit || !incident || !Number.isFinite(unit.lat)) return;
    const to = unit.status === 'transporting' && hospitalId ? hospitals.find((h) => h.id === hospitalId) : incident;
    if (!to) return;
    get<unknown>(`${API}/cities/${encodeURIComponent(city)}/route?from_lat=${unit.lat}&from_lon=${unit.lon}&to_lat=${to.lat}&to_lon=${to.lon}&mode=drive&profile=emergency`)
      .then((r) => setRoute(routeCoords(r)))
      .catch(() => setRoute([]));
  }, [unit?.id, unit?.status, incident?.id, hospitalId, city]);

  const tap = async (status: string) => {
    if (!unit) return;
    setError(null);
    try {
      await setUnitStatus(unit.id, status);
      await refresh();
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  const recordContact = async () => {
    if (!incident) return;
    try {
      await post(`${API}/incidents/${incident.id}/events`, { kind: 'at_patient', unit_id: unit?.id });
      setContact(true);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  const chooseHospital = async (id: number) => {
    setHospitalId(id);
    if (!incident) return;
    try {
      await post(`${API}/incidents/${incident.id}/destination`, { hospital_id: id, unit_id: unit?.id });
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  const attach = async (file: File) => {
    if (!incident) return;
    const form = new FormData();
    form.append('file', file);
    form.append('kind', 'prehospital_ecg');
    try {
      await post(`${API}/incidents/${incident.id}/attachments`, form);
      setAttached(file.name);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };

  const points = useMemo<MapPoint[]>(() => {
    const pts: MapPoint[] = [];
    if (incident) pts.push({ id: 'inc', lat: incident.lat, lon: incident.lon, color: '#c62828', shape: 'square', size: 18, label: `#${incident.id}` });
    for (const h of hospitals) pts.push({ id: `h${h.id}`, lat: h.lat, lon: h.lon, color: h.diversion ? '#9e9e9e' : '#1565c0', shape: 'cross', label: h.name });
    if (unit) pts.push({ id: 'unit', ...latLon(unit.raw), color: statusColor(unit.status), size: 16, label: unit.callsign });
    return pts;
  }, [incident, hospitals, unit]);
  const lines = useMemo<MapLine[]>(() => (route.length > 1 ? [{ id: 'route', coordinates: route, color: '#1565c0' }] : []), [route]);

  if (!unit) {
    return (
      <div className="phone crew" data-testid="crew-app">
        <header className="topbar"><b>{t('crew_app')}</b><span className="spacer" /><LangSwitch /><button onClick={onSignOut}>{t('logout')}</button></header>
        <h2 className="pad">{t('choose_unit')}</h2>
        <div className="grid2 pad">
          {units.map((u) => <button key={u.id} className="big" data-testid={`choose-${u.callsign}`} onClick={() => setUnitId(u.id)}>{u.callsign}</button>)}
        </div>
        {error && <div className="error pad">{error}</div>}
      </div>
    );
  }
  const next = CREW_NEXT[unit.status] ?? [];
  return (
    <div className="phone crew" data-testid="crew-app" data-status={unit.status}>
      <header className="topbar">
        <b>{unit.callsign}</b>
        <span className="status-pill" style={{ background: statusColor(unit.status) }} data-testid="crew-status">{t(statusKey(unit.status))}</span>
        <span className="spacer" />
        <LangSwitch />
        <button onClick={onSignOut}>{t('logout')}</button>
      </header>
      <section className="pad">
        <h2>{t('assignment')}</h2>
        {incident ? (
          <div data-testid="assignment">
            <b>#{incident.id}</b> {incident.determinant} {incident.arrest && <span className="arrest-badge">{t('arrest')}</span>}
            {incident.address && <div>{incident.address}</div>}
          </div>
        ) : (
          <div className="muted" data-testid="no-assignment">{t('no_assignment')}</div>
        )}
      </section>
      <div className="statusbar">
        {next.map((s) => (
          <button key={s} className="huge" style={{ background: statusColor(s) }} data-testid={`to-${s}`} onClick={() => tap(s)}>{t(statusKey(s))}</button>
        ))}
      </div>
      {incident && (
        <section className="pad crew-extra">
          {(unit.status === 'on_scene' || unit.status === 'en_route') && (
            <button className={`big ${contact ? 'done' : ''}`} data-testid="patient-contact" onClick={recordContact}>{t('patient_contact')}</button>
          )}
          <label>
            {t('hospital_chosen')}
            <select data-testid="hospital" value={hospitalId ?? ''} onChange={(e) => void chooseHospital(Number(e.target.value))}>
              <option value="">{t('choose_hospital')}</option>
              {hospitals.map((h) => <option key={h.id} value={h.id} disabled={h.diversion}>{h.name}{h.diversion ? ` (${t('diversion')})` : ''}</option>)}
            </select>
          </label>
          <label className="file big">
            {t('attach_ecg')}
            <input type="file" accept="image/*,application/pdf" capture="environment" data-testid="ecg-file" onChange={(e) => e.target.files?.[0] && void attach(e.target.files[0])} />
          </label>
          {attached && <div data-testid="ecg-attached">{t('attached', { name: attached })}</div>}
        </section>
      )}
      {error && <div className="error pad">{error}</div>}
      {city && <MapView city={city} points={points} lines={lines} className="phone-map" />}
    </div>
  );
}
