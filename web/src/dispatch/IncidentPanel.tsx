// The selected incident: recommendation with reasons and one dispatch action, reassign / stand down / cancel,
// the volunteer first responders, and the timeline.
import { useEffect, useState } from 'react';
import { fmtDuration, useNow } from '../app/stream';
import type { Unit } from '../fleet/api';
import { statusColor } from '../fleet/status';
import { pick, useI18n } from '../i18n';
import { EVENT_KIND, INCIDENT_STATUS, label, RESPONDER_ROLE, RESPONDER_STATE } from '../i18n/labels';
import { alertResponders, ROLE_COLOR, type Response } from '../volunteers/api';
import {
  cancelIncident, closeIncident, dispatchUnit, getRecommendation, reassignUnit, standDownUnit,
  type Incident, type Recommendation, type TimelineItem,
} from './api';

interface Props {
  incident: Incident;
  units: Unit[];
  timeline: TimelineItem[];
  response: Response | null;
  version: number;
  onChanged: () => void;
  registerDispatch: (fn: (() => void) | null) => void;
}

export function IncidentPanel({ incident, units, timeline, response, version, onChanged, registerDispatch }: Props) {
  const { t, lang } = useI18n();
  const now = useNow();
  const [rec, setRec] = useState<Recommendation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The incident list leaves assignments out; a unit names its call itself.
  const assigned = units.filter((u) => u.incidentId === incident.id || incident.units.includes(u.id));
  const unitName = (id: number | null) => (id === null ? '' : (units.find((u) => u.id === id)?.callsign ?? `#${id}`));
  const open = !['closed', 'cancelled'].includes(incident.status);
  // The system could not alert volunteers for this call (and none were alerted since): say so, loudly.
  const alertFailure = response?.responders?.length ? undefined
    : [...timeline].reverse().find((e) => e.kind === 'responders_alert_failed');

  useEffect(() => {
    let live = true;
    if (incident.priority === null || !open) {
      setRec(null);
      return;
    }
    getRecommendation(incident.id)
      .then((r) => live && (setRec(r), setError(null)))
      .catch((err) => live && setError(t('error', { msg: err.message })));
    return () => {
      live = false;
    };
  }, [incident.id, incident.priority, version]);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      onChanged();
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };
  const eligible = rec?.units.filter((c) => c.eligible && !assigned.some((u) => u.id === c.unit_id)) ?? [];
  const excluded = rec?.units.filter((c) => !c.eligible) ?? [];
  const best = eligible.find((c) => c.unit_id === rec?.best_unit_id) ?? eligible[0];
  const dispatchBest = best && assigned.length === 0 && open ? () => void act(() => dispatchUnit(incident.id, best.unit_id)) : null;
  useEffect(() => {
    registerDispatch(dispatchBest);
    return () => registerDispatch(null);
  });
  const alertVolunteers = () =>
    act(() => alertResponders(incident.id, { city: incident.city, lat: incident.lat, lon: incident.lon, nature: incident.complaint === 'choking' ? 'choking' : 'cardiac_arrest', address: incident.address ?? undefined, ambulance_eta_s: best?.eta_s ?? undefined, exclusions: [] }));

  return (
    <div className="incident" data-testid="incident-panel" data-incident={incident.id} data-status={incident.status}>
      <div className="incident-head">
        <b>#{incident.id}</b>
        {incident.determinant && <span className="chip" data-testid="incident-determinant">{incident.determinant}</span>}
        {incident.suspectedArrest && <span className="arrest-badge">{t('arrest')}</span>}
        <span className="chip" data-testid="incident-status">{label(INCIDENT_STATUS, incident.status, lang)}</span>
        <span className="muted small">{t('since_call')} {fmtDuration((now - Date.parse(incident.callAt)) / 1000)}</span>
      </div>
      {assigned.length > 0 && (
        <div className="assigned" data-testid="assigned">
          {t('assigned')}:{' '}
          {assigned.map((u) => (
            <span key={u.id} className="unit-chip" data-testid={`assigned-${u.callsign}`} data-status={u.status} style={{ borderColor: statusColor(u.status) }}>
              {u.callsign} · {pick(u.statusLabel, lang) ?? u.status}
              <button className="link small" disabled={busy} onClick={() => {
                const reason = prompt(t('cancel_reason'));
                if (reason) void act(() => standDownUnit(incident.id, u.id, reason));
              }}>✕</button>
            </span>
          ))}
        </div>
      )}
      {open && incident.priority !== null && (
        <section className="panel" data-testid="recommendation">
          <h2>{t('recommendation')}</h2>
          {!rec && !error && <div className="muted">{t('loading')}</div>}
          {rec && eligible.length === 0 && <div className="muted">{t('eligible_none')}</div>}
          <ol className="cands">
            {eligible.slice(0, 4).map((c) => {
              const isBest = c === best;
              return (
                <li key={c.unit_id} className={isBest ? 'best' : ''} data-testid={`cand-${c.call_sign}`}>
                  <div className="cand-row">
                    <b>{c.call_sign}</b> <span className="muted small">{c.unit_type}</span>
                    {c.eta_s !== null && <span>{t('eta')} {fmtDuration(c.eta_s)}</span>}
                    {c.distance_m !== null && <span className="muted small">{(c.distance_m / 1000).toFixed(1)} km</span>}
                    {assigned.length === 0 ? (
                      <button className={isBest ? 'primary' : ''} disabled={busy} data-testid={isBest ? 'dispatch-best' : `dispatch-${c.unit_id}`} onClick={() => act(() => dispatchUnit(incident.id, c.unit_id))}>
                        {t('dispatch')}{isBest && <kbd>D</kbd>}
                      </button>
                    ) : (
                      <button disabled={busy} data-testid={`reassign-${c.unit_id}`} onClick={() => act(() => reassignUnit(incident.id, assigned[0].id, c.unit_id))}>{t('reassign')}</button>
                    )}
                  </div>
                  {c.reason_text && <div className="small muted">{pick(c.reason_text, lang)}</div>}
                </li>
              );
            })}
          </ol>
          {excluded.length > 0 && (
            <details data-testid="excluded">
              <summary>{t('excluded')} ({excluded.length})</summary>
              <ul className="small">
                {excluded.map((x) => <li key={x.unit_id}><b>{x.call_sign}</b>: {pick(x.reason_text, lang) ?? x.reason}</li>)}
              </ul>
            </details>
          )}
          {rec?.hospital.name && (
            <div className="small">{t('hospital_suggested')}: <b>{rec.hospital.name}</b>{rec.hospital.eta_s !== null && ` · ${fmtDuration(rec.hospital.eta_s)}`}</div>
          )}
        </section>
      )}
      {(incident.volunteersPlanned || response) && (
        <section className="panel" data-testid="responders">
          <h2>{t('responders')} {response && `(${response.responders.length})`}</h2>
          {!response && open && <button disabled={busy} data-testid="alert-volunteers" onClick={alertVolunteers}>{t('alert_volunteers')}</button>}
          {response?.stood_down_at && <div className="muted small">{t('stood_down_all')}</div>}
          <ul className="small">
            {response?.responders.map((r) => (
              <li key={`${r.kind}${r.responder_id}`} data-testid="responder" data-state={r.state} data-route={r.route.length}>
                <span className="swatch" style={{ background: ROLE_COLOR[r.accepted_role ?? r.role] ?? '#444' }} />{r.name ?? `#${r.responder_id}`} · <b>{label(RESPONDER_ROLE, r.accepted_role ?? r.role, lang)}</b>{r.aed_id ? ` (${t('fetch_aed')})` : ''} · {label(RESPONDER_STATE, r.state, lang)} · {t('responder_eta')} {fmtDuration(r.eta_s)}
              </li>
            ))}
          </ul>
        </section>
      )}
      {open && (
        <div className="pad">
          <button className="danger" disabled={busy} data-testid="cancel-incident" onClick={() => {
            const reason = prompt(t('cancel_reason'));
            if (reason) void act(() => cancelIncident(incident.id, reason));
          }}>{t('cancel_incident')} <kbd>X</kbd></button>
          {assigned.length === 0 && incident.status !== 'received' && incident.status !== 'waiting' && (
            <button disabled={busy} data-testid="close-incident" onClick={() => act(() => closeIncident(incident.id))}>{t('close_incident')}</button>
          )}
        </div>
      )}
      {error && <div className="error pad">{error}</div>}
      {alertFailure && (
        <div className="error pad" role="alert" data-testid="volunteer-alert-failed">
          {label(EVENT_KIND, 'responders_alert_failed', lang)}: {String(alertFailure.payload.reason ?? '')}
        </div>
      )}
      <section className="panel" data-testid="timeline">
        <h2>{t('timeline')}</h2>
        <ol className="timeline small">
          {timeline.map((e) => (
            <li key={e.id} data-kind={e.kind}>
              <span className="mono">{new Date(e.at).toLocaleTimeString(lang)}</span> {label(EVENT_KIND, e.kind, lang)}
              {e.unitId !== null && <span className="muted"> · {unitName(e.unitId)}</span>}
              {e.kind === 'responders_alert_failed' && <span className="muted"> · {String(e.payload.reason ?? '')}</span>}
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}
