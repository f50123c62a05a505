// Call taking: location (map click, coordinates or address search), callback number, then triage question by
// question with the determinant and, for an arrest, telephone-CPR prompts and a running timer.
import { useEffect, useState, type FormEvent } from 'react';
import { fmtDuration, useNow } from '../app/stream';
import { pick, useI18n } from '../i18n';
import { searchPlaces, type Place } from '../geo/api';
import { API, post } from '../api/client';
import { createIncident, findQuestion, PRIORITY_COLOR, triage, type Incident, type ProtocolSpec, type Question, type Text, type TriageState } from './api';

export interface Pin {
  lat: number;
  lon: number;
}

interface Props {
  city: string;
  pin: Pin | null;
  setPin: (p: Pin | null) => void;
  onCreated: (inc: Incident) => void;
}

export function CallTaking({ city, pin, setPin, onCreated }: Props) {
  const { t } = useI18n();
  const [lat, setLat] = useState('');
  const [lon, setLon] = useState('');
  const [phone, setPhone] = useState('');
  const [q, setQ] = useState('');
  const [places, setPlaces] = useState<Place[] | null>(null);
  const [address, setAddress] = useState('');
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
      onCreated(await createIncident({ city, location: { lat: pin.lat, lon: pin.lon }, caller_number: phone || undefined, address: address || undefined, patients: 1 }));
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
              <button className="link" onClick={() => { setPin({ lat: p.lat, lon: p.lon }); setAddress(p.name); setPlaces(null); }}>{p.name}</button>
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

interface TriageProps {
  incident: Incident;
  spec: ProtocolSpec;
  state: TriageState;
  setState: (t: TriageState) => void;
}

/** Arrest recognition shortcut: unresponsive and not breathing normally goes straight to the arrest card. */
const looksLikeArrest = (a: Record<string, string | number>) => a.awake === 'no' && ['no', 'agonal', 'unknown'].includes(String(a.breathing));

export function Triage({ incident, spec, state, setState }: TriageProps) {
  const { t, lang } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [numberValue, setNumberValue] = useState('');
  const entryLeft = spec.entry_questions.filter((q) => !(q.id in state.answers));
  const question: Question | undefined = state.complaint
    ? state.nextQuestions.map((id) => findQuestion(spec, id)).find(Boolean)
    : entryLeft[0];
  const cards = [...spec.cards].sort((a, b) => a.number - b.number);

  const submit = async (complaint: string | null, answers: Record<string, string | number>) => {
    setError(null);
    if (!complaint) {
      setState({ ...state, answers });
      return;
    }
    try {
      setState(await triage(incident.id, complaint, answers));
    } catch (err) {
      setError(t('error', { msg: (err as Error).message }));
    }
  };
  const reply = (value: string | number) => {
    if (!question) return;
    const answers = { ...state.answers, [question.id]: value };
    const complaint = state.complaint ?? (looksLikeArrest(answers) ? 'cardiac_arrest' : null);
    setNumberValue('');
    void submit(complaint, answers);
  };
  const choose = (cardId: string) => void submit(cardId, state.answers);

  useEffect(() => {
    // Digits answer the current question (or pick the complaint card): 1 = first choice, 2 = second, ...
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const n = Number(e.key);
      if (!(n >= 1 && n <= 9)) return;
      if (question?.kind === 'choice' && n <= question.answers.length) reply(question.answers[n - 1].id);
      else if (!question && !state.complaint && n <= cards.length) choose(cards[n - 1].id);
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  const det = state.determinant;
  return (
    <section className="panel triage" data-testid="triage">
      <h2>{t('triage')}</h2>
      {det && (
        <div className="determinant" data-testid="determinant" data-code={det.code}>
          {t('determinant')}: <b>{det.code}</b>
          <span className="chip" style={{ background: PRIORITY_COLOR(det.priority), color: '#fff' }}>{pick(det.priority_label, lang)}</span>
          <div className="small">{pick(det.response_plan.label, lang)}</div>
          <div className="small muted">{det.reasons.map((r) => pick(r, lang)).join(' · ')}</div>
        </div>
      )}
      {det?.suspected_arrest && <TelephoneCpr incidentId={incident.id} callAt={incident.callAt} prompts={det.tcpr_prompts} />}
      {question ? (
        <div className="question" data-testid="question" data-qid={question.id}>
          <div className="qtext">{pick(question.text, lang)}</div>
          {question.kind === 'choice' ? (
            <div className="answers">
              {question.answers.map((a, i) => (
                <button key={a.id} data-testid={`answer-${a.id}`} onClick={() => reply(a.id)}>
                  <kbd>{i + 1}</kbd> {pick(a.text, lang)}
                </button>
              ))}
            </div>
          ) : (
            <form className="row" onSubmit={(e) => { e.preventDefault(); if (numberValue !== '') reply(Number(numberValue)); }}>
              <input type="number" data-testid="answer-number" min={question.min ?? undefined} max={question.max ?? undefined} value={numberValue} onChange={(e) => setNumberValue(e.target.value)} />
              <button type="submit">{t('next_question')}</button>
            </form>
          )}
        </div>
      ) : !state.complaint ? (
        <div className="cards" data-testid="complaints">
          <div className="qtext">{t('complaint')}</div>
          {cards.map((c, i) => (
            <button key={c.id} className="link" data-testid={`card-${c.id}`} onClick={() => choose(c.id)}>
              {i < 9 && <kbd>{i + 1}</kbd>} {pick(c.label, lang)}
            </button>
          ))}
        </div>
      ) : (
        <div className="muted" data-testid="triage-done">{t('triage_done')}</div>
      )}
      {error && <div className="error">{error}</div>}
    </section>
  );
}

function TelephoneCpr({ incidentId, callAt, prompts }: { incidentId: number; callAt: string; prompts: Text[] }) {
  const { t, lang } = useI18n();
  const [start] = useState(() => Date.now());
  const [compressing, setCompressing] = useState(false);
  const now = useNow();
  const sinceCall = (now - Date.parse(callAt)) / 1000;
  const firstCompression = async () => {
    try {
      await post(`${API}/incidents/${incidentId}/timeline`, { kind: 'first_instructed_compression', source: 'console' });
    } finally {
      setCompressing(true);
    }
  };
  return (
    <div className="tcpr" data-testid="tcpr">
      <div className="tcpr-head">
        <span className="arrest-badge">{t('arrest')}</span>
        <span>{t('tcpr_timer')}: <b data-testid="tcpr-timer">{fmtDuration((now - start) / 1000)}</b></span>
        <span className="muted small">{t('since_call')} {fmtDuration(sinceCall)}</span>
      </div>
      <ol className="small tcpr-steps">
        {(prompts.length ? prompts.map((p) => pick(p, lang)) : [t('tcpr_steps')]).map((p, i) => <li key={i}>{p}</li>)}
      </ol>
      <button className={compressing ? 'done' : 'primary'} disabled={compressing} data-testid="first-compression" onClick={firstCompression}>{t('first_compression')}</button>
    </div>
  );
}

export function isTyping(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}
