// Call taking: location (map click, coordinates or address search), callback number, then triage question by
// question with the determinant and, for an arrest, telephone-CPR prompts and a running timer.
import { useEffect, useState, type FormEvent } from 'react';
import { fmtDuration, useNow } from '../app/stream';
import { pick, useI18n } from '../i18n';
import { searchPlaces, type Place } from '../geo/api';
import { answer, createIncident, type Incident, type TriageState } from './api';

export interface Pin {
  lat: number;
  lon: number;
}

interface Props {
  city: string;
  pin: Pin | null;
  setPin: (p: Pin | null) => void;
  onCreated: (inc: Incident, triage: TriageState) => void;
}

export function CallTaking({ city, pin, setPin, onCreated }: Props) {
  const { t } = useI18n();
  const [lat, setLat] = useState('');
  const [lon, setLon] = useState('');
  const [phone, setPhone] = useState('');
  const [q, setQ] = useState('');
  const [places, setPlaces] = useState<Place[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (pin) {
      setLat(pin.lat.toFixed(6));
      setLon(pin.lon.toFixed(6));
    }
  }, [pin?.lat, pin?.lon]);

  const useCoords = (ev: FormEvent) => {
    ev.preventDefault();
    const la = Number(lat), lo = Number(lon);
    if (!Number.isFinite(la) || !Number.isFinite(lo) || Math.abs(la) > 90 || Math.abs(lo) > 180) {
      setError(t('error', { msg: `${t('lat')}/${t('lon')}` }));
      return;
    }
    setError(null);
    setPin({ lat: la, lon: lo });
  };

  const search = async (ev: FormEvent) => {
    ev.preventDefault();
    if (!q.trim()) return;
    try {
      setPlaces(await searchPlaces(city, q.trim()));
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };

  const create = async () => {
    if (!pin) return;
    setBusy(true);
    setError(null);
    try {
      const { incident, triage } = await createIncident({ lat: pin.lat, lon: pin.lon, location: { lat: pin.lat, lon: pin.lon }, callback_number: phone || undefined, city });
      onCreated(incident, triage);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel call" data-testid="call-taking">
      <h2>{t('call_taking')}</h2>
      <p className="muted small">{t('pick_on_map')}</p>
      <form className="row" onSubmit={search}>
        <input data-testid="place-q" placeholder={t('address_search')} value={q} onChange={(e) => setQ(e.target.value)} />
        <button type="submit">⌕</button>
      </form>
      {places && (
        <ul className="places" data-testid="places">
          {places.length === 0 && <li className="muted">{t('no_results')}</li>}
          {places.slice(0, 6).map((p, i) => (
            <li key={i}>
              <button className="link" onClick={() => { setPin({ lat: p.lat, lon: p.lon }); setPlaces(null); }}>{p.name}</button>
            </li>
          ))}
        </ul>
      )}
      <form className="row" onSubmit={useCoords}>
        <input data-testid="lat" aria-label={t('lat')} placeholder={t('lat')} value={lat} onChange={(e) => setLat(e.target.value)} />
        <input data-testid="lon" aria-label={t('lon')} placeholder={t('lon')} value={lon} onChange={(e) => setLon(e.target.value)} />
        <button type="submit" data-testid="use-coords">{t('set_coords')}</button>
      </form>
      <input data-testid="callback" placeholder={t('callback_number')} value={phone} onChange={(e) => setPhone(e.target.value)} />
      {pin && <div className="small" data-testid="pin">{t('location_set', { lat: pin.lat.toFixed(5), lon: pin.lon.toFixed(5) })}</div>}
      {error && <div className="error">{error}</div>}
      <button className="primary" disabled={!pin || busy} onClick={create} data-testid="create-incident">{t('start_call')}</button>
    </section>
  );
}

export function Triage({ incidentId, triage, setTriage, callAt }: { incidentId: number; triage: TriageState; setTriage: (t: TriageState) => void; callAt?: string }) {
  const { t, lang } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const q = triage.questions[0];
  const reply = async (value: string) => {
    if (!q) return;
    try {
      setTriage(await answer(incidentId, q.id, value));
      setError(null);
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  useEffect(() => {
    // Digits answer the current question: 1 = first answer, 2 = second, ...
    const onKey = (e: KeyboardEvent) => {
      if (!q || isTyping(e)) return;
      const n = Number(e.key);
      if (n >= 1 && n <= q.answers.length) {
        e.preventDefault();
        void reply(q.answers[n - 1].value);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });
  return (
    <section className="panel triage" data-testid="triage">
      <h2>{t('triage')}</h2>
      {triage.determinant && (
        <div className="determinant" data-testid="determinant">
          {t('determinant')}: <b>{triage.determinant}</b>
          {triage.priority && <span className="chip">{triage.priority}</span>}
        </div>
      )}
      {triage.arrest && <TelephoneCpr since={callAt} prompts={triage.prompts} />}
      {q ? (
        <div className="question" data-testid="question" data-qid={q.id}>
          <div className="qtext">{pick(q.text, lang)}</div>
          <div className="answers">
            {q.answers.map((a, i) => (
              <button key={a.value} data-testid={`answer-${a.value}`} onClick={() => reply(a.value)}>
                <kbd>{i + 1}</kbd> {pick(a.label, lang) ?? a.value}
              </button>
            ))}
          </div>
        </div>
      ) : (
        <div className="muted" data-testid="triage-done">{t('triage_done')}</div>
      )}
      {error && <div className="error">{error}</div>}
    </section>
  );
}

function TelephoneCpr({ since, prompts }: { since?: string; prompts: unknown[] }) {
  const { t, lang } = useI18n();
  const [start] = useState(() => Date.now());
  const now = useNow();
  const callAt = since ? Date.parse(since) : NaN;
  const texts = prompts.map((p) => pick(typeof p === 'object' && p && 'text' in p ? (p as { text: unknown }).text : p, lang)).filter(Boolean);
  return (
    <div className="tcpr" data-testid="tcpr">
      <div className="tcpr-head">
        <span className="arrest-badge">{t('arrest')}</span>
        <span>{t('tcpr_timer')}: <b data-testid="tcpr-timer">{fmtDuration((now - start) / 1000)}</b></span>
        {Number.isFinite(callAt) && <span className="muted small">{t('since_call')} {fmtDuration((now - callAt) / 1000)}</span>}
      </div>
      <div className="small">{t('tcpr')}: {texts.length ? texts.join(' • ') : t('tcpr_steps')}</div>
    </div>
  );
}

export function isTyping(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}
