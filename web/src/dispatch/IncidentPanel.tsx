// The selected incident: recommendation with reasons and one dispatch action, reassign / cancel, responders, timeline.
import { useEffect, useState } from 'react';
import { fmtDuration, useNow } from '../app/stream';
import type { Unit } from '../fleet/api';
import { statusColor, statusKey } from '../fleet/status';
import { useI18n } from '../i18n';
import type { Responder } from '../volunteers/api';
import {
  cancelIncident, dispatchUnit, getRecommendation, reassignUnit,
  type Incident, type Recommendation, type TimelineItem,
} from './api';

interface Props {
  incident: Incident;
  units: Unit[];
  timeline: TimelineItem[];
  responders: Responder[];
  version: number;
  onChanged: () => void;
  registerDispatch: (fn: (() => void) | null) => void;
}

export function IncidentPanel({ incident, units, timeline, responders, version, onChanged, registerDispatch }: Props) {
  const { t } = useI18n();
  const now = useNow();
  const [rec, setRec] = useState<Recommendation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const assigned = units.filter((u) => incident.units.includes(u.id) || u.incidentId === incident.id);

  useEffect(() => {
    let live = true;
    getRecommendation(incident.id).then((r) => live && setRec(r)).catch((err) => live && setError(t('error', { msg: err.message })));
    return () => {
      live = false;
    };
  }, [incident.id, version]);

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
  const best = rec?.candidates.find((c) => c.recommended) ?? rec?.candidates[0];
  const dispatchBest = best && assigned.length === 0 ? () => void act(() => dispatchUnit(incident.id, best.unitId)) : null;
  useEffect(() => {
    registerDispatch(dispatchBest);
    return () => registerDispatch(null);
  });

  return (
    <div className="incident" data-testid="incident-panel" data-incident={incident.id}>
      <div className="incident-head">
        <b>#{incident.id}</b>
        {incident.determinant && <span className="chip" data-testid="incident-determinant">{incident.determinant}</span>}
        {incident.arrest && <span className="arrest-badge">{t('arrest')}</span>}
        <span className="muted small">{t('since_call')} {fmtDuration((now - Date.parse(incident.callAt)) / 1000)}</span>
      </div>
      {assigned.length > 0 && (
        <div className="assigned" data-testid="assigned">
          {t('assigned')}:{' '}
          {assigned.map((u) => (
            <span key={u.id} className="unit-chip" data-testid={`assigned-${u.callsign}`} data-status={u.status} style={{ borderColor: statusColor(u.status) }}>
              {u.callsign} · {t(statusKey(u.status))}
            </span>
          ))}
        </div>
      )}
      <section className="panel" data-testid="recommendation">
        <h2>{t('recommendation')}</h2>
        {!rec && !error && <div className="muted">{t('loading')}</div>}
        {rec && rec.candidates.length === 0 && <div className="muted">{t('no_recommendation')}</div>}
        <ol className="cands">
          {rec?.candidates.slice(0, 4).map((c) => (
            <li key={c.unitId} className={c.recommended ? 'best' : ''} data-testid={`cand-${c.callsign}`}>
              <div className="cand-row">
                <b>{c.callsign}</b>
                {c.etaS !== undefined && <span>{t('eta')} {fmtDuration(c.etaS)}</span>}
                {assigned.length === 0 ? (
                  <button className={c.recommended ? 'primary' : ''} disabled={busy} data-testid={c.recommended ? 'dispatch-best' : `dispatch-${c.unitId}`} onClick={() => act(() => dispatchUnit(incident.id, c.unitId))}>
                    {t('dispatch')}{c.recommended && <kbd>D</kbd>}
                  </button>
                ) : (
                  <button disabled={busy} data-testid={`reassign-${c.unitId}`} onClick={() => act(() => reassignUnit(incident.id, assigned[0].id, c.unitId))}>{t('reassign')}</button>
                )}
              </div>
              {c.reasons.length > 0 && <div className="small muted">{c.reasons.join(' · ')}</div>}
            </li>
          ))}
        </ol>
        {rec && rec.excluded.length > 0 && (
          <details>
            <summary>{t('excluded')} ({rec.excluded.length})</summary>
            <ul className="small">
              {rec.excluded.map((x) => <li key={x.unitId}><b>{x.callsign}</b>: {x.reason}</li>)}
            </ul>
          </details>
        )}
        <button className="danger" disabled={busy} data-testid="cancel-incident" onClick={() => {
          const reason = prompt(t('cancel_reason'));
          if (reason) void act(() => cancelIncident(incident.id, reason));
        }}>{t('cancel_incident')}</button>
        {error && <div className="error">{error}</div>}
      </section>
      {responders.length > 0 && (
        <section className="panel" data-testid="responders">
          <h2>{t('responders')} ({responders.length})</h2>
          <ul className="small">
            {responders.map((r) => (
              <li key={r.id} data-testid="responder" data-status={r.status}>
                {r.name ?? `#${r.id}`} · {r.role ?? '—'} · <b>{r.status}</b>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section className="panel" data-testid="timeline">
        <h2>{t('timeline')}</h2>
        <ol className="timeline small">
          {timeline.map((e, i) => (
            <li key={e.id ?? i} data-kind={e.kind}>
              <span className="mono">{new Date(e.at).toLocaleTimeString()}</span> {e.label ?? e.kind.replaceAll('_', ' ')}
              {e.unitId !== undefined && <span className="muted"> · {units.find((u) => u.id === e.unitId)?.callsign ?? `#${e.unitId}`}</span>}
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}
