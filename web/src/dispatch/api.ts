// Dispatch endpoints (incidents, triage, recommendation, dispatch/reassign/cancel, timeline) and the shapes the
// console reads from them. Normalisers accept the server's field names and keep the screens simple.
import { API, get, idempotencyKey, post } from '../api/client';

type Raw = Record<string, unknown>;

export interface Incident {
  id: number;
  priority: string;
  priorityRank: number;
  status: string;
  lat: number;
  lon: number;
  callAt: string;
  determinant?: string;
  arrest: boolean;
  address?: string;
  nature?: string;
  units: number[];
  raw: Raw;
}

export interface Question {
  id: string;
  text: unknown;
  answers: { value: string; label: unknown }[];
  kind?: string;
}

export interface TriageState {
  questions: Question[];
  determinant?: string;
  priority?: string;
  arrest: boolean;
  done: boolean;
  prompts: unknown[];
}

export interface Candidate {
  unitId: number;
  callsign: string;
  etaS?: number;
  reasons: string[];
  recommended: boolean;
}

export interface Excluded {
  unitId: number;
  callsign: string;
  reason: string;
}

export interface Recommendation {
  candidates: Candidate[];
  excluded: Excluded[];
  raw: Raw;
}

export interface TimelineItem {
  id?: number;
  kind: string;
  at: string;
  label?: string;
  unitId?: number;
  payload: Raw;
}

const num = (v: unknown): number => (v === null || v === undefined || v === '' ? NaN : Number(v));

export function latLon(r: Raw): { lat: number; lon: number } {
  const loc = (r.location ?? r.position ?? r.point ?? r.gps ?? r.last_position) as Raw | undefined;
  const lat = num(r.lat ?? r.latitude ?? loc?.lat ?? loc?.latitude);
  const lon = num(r.lon ?? r.lng ?? r.longitude ?? loc?.lon ?? loc?.lng ?? loc?.longitude);
  return { lat, lon };
}

const PRIORITY_RANK: Record<string, number> = { p1: 1, high: 1, critical: 1, red: 1, '1': 1, echo: 0, p2: 2, medium: 2, orange: 2, yellow: 2, '2': 2, p3: 3, low: 3, green: 3, '3': 3 };

export function priorityRank(p: unknown): number {
  if (typeof p === 'number') return p;
  return PRIORITY_RANK[String(p ?? '').toLowerCase()] ?? 9;
}

export const PRIORITY_COLOR = (rank: number) => (rank <= 1 ? '#c62828' : rank === 2 ? '#ef6c00' : rank === 3 ? '#2e7d32' : '#546e7a');

export function toIncident(r: Raw): Incident {
  const { lat, lon } = latLon(r);
  const assignments = (r.assignments ?? r.units ?? r.assigned_units ?? []) as unknown[];
  const units = assignments
    .map((a) => (typeof a === 'number' ? a : num((a as Raw).unit_id ?? (a as Raw).id)))
    .filter((n) => Number.isFinite(n));
  const triage = (r.triage ?? {}) as Raw;
  const determinant = (r.determinant ?? triage.determinant ?? undefined) as string | undefined;
  const priority = String(r.priority ?? triage.priority ?? '');
  const arrest = Boolean(r.arrest ?? r.is_arrest ?? r.cardiac_arrest ?? triage.arrest ?? false) || /arrest/i.test(String(r.nature ?? r.chief_complaint ?? ''));
  return {
    id: num(r.id),
    priority,
    priorityRank: priorityRank(r.priority_rank ?? priority),
    status: String(r.status ?? 'open'),
    lat,
    lon,
    callAt: String(r.call_at ?? r.called_at ?? r.received_at ?? r.created_at ?? r.opened_at ?? ''),
    determinant: determinant ? String(determinant) : undefined,
    arrest,
    address: (r.address ?? r.place ?? undefined) as string | undefined,
    nature: (r.nature ?? r.chief_complaint ?? r.card ?? undefined) as string | undefined,
    units,
    raw: r,
  };
}

const list = (d: unknown, ...keys: string[]): Raw[] => {
  if (Array.isArray(d)) return d as Raw[];
  for (const k of [...keys, 'items', 'results', 'data']) {
    const v = (d as Raw | undefined)?.[k];
    if (Array.isArray(v)) return v as Raw[];
  }
  return [];
};

export const OPEN_STATES = new Set(['open', 'new', 'received', 'triaged', 'pending', 'dispatched', 'active', 'assigned', 'in_progress']);

export async function listIncidents(): Promise<Incident[]> {
  return list(await get(`${API}/incidents?open=true`), 'incidents').map(toIncident);
}

/** Open incidents by priority (most urgent first), then by age (oldest call first). */
export function queueOrder(items: Incident[]): Incident[] {
  return [...items]
    .filter((i) => !['closed', 'cancelled', 'canceled', 'completed'].includes(i.status))
    .sort((a, b) => a.priorityRank - b.priorityRank || Date.parse(a.callAt) - Date.parse(b.callAt) || a.id - b.id);
}

export async function createIncident(body: Raw): Promise<{ incident: Incident; triage: TriageState }> {
  const r = await post<Raw>(`${API}/incidents`, body, { 'Idempotency-Key': idempotencyKey() });
  const inc = (r.incident ?? r) as Raw;
  return { incident: toIncident(inc), triage: toTriage(r) };
}

export function toQuestion(q: Raw): Question {
  const answers = (q.answers ?? q.options ?? q.choices ?? [{ value: 'yes', label: 'yes' }, { value: 'no', label: 'no' }]) as unknown[];
  return {
    id: String(q.id ?? q.key ?? q.question_id),
    text: q.text ?? q.label ?? q.question ?? q.prompt ?? q.id,
    kind: q.kind as string | undefined,
    answers: answers.map((a) =>
      typeof a === 'string' ? { value: a, label: a } : { value: String((a as Raw).value ?? (a as Raw).id ?? (a as Raw).key), label: (a as Raw).label ?? (a as Raw).text ?? (a as Raw).value },
    ),
  };
}

export function toTriage(r: Raw): TriageState {
  const t = (r.triage ?? r) as Raw;
  const qs = (t.next_questions ?? r.next_questions ?? []) as Raw[];
  const inc = (r.incident ?? r) as Raw;
  const arrest = Boolean(t.arrest ?? t.is_arrest ?? inc.arrest ?? inc.is_arrest ?? false);
  return {
    questions: qs.map(toQuestion),
    determinant: (t.determinant ?? inc.determinant ?? undefined) as string | undefined,
    priority: (t.priority ?? inc.priority ?? undefined) as string | undefined,
    arrest,
    done: Boolean(t.complete ?? t.done ?? (qs.length === 0)),
    prompts: (t.prompts ?? t.instructions ?? t.telephone_cpr ?? []) as unknown[],
  };
}

export async function getTriage(incidentId: number): Promise<TriageState> {
  return toTriage(await get<Raw>(`${API}/incidents/${incidentId}/triage`));
}

export async function answer(incidentId: number, questionId: string, value: string): Promise<TriageState> {
  return toTriage(await post<Raw>(`${API}/incidents/${incidentId}/answers`, { question_id: questionId, answer: value }));
}

export function toRecommendation(r: Raw): Recommendation {
  const cands = list(r, 'candidates', 'recommended', 'ranked', 'units');
  const excl = list((r.excluded ?? []) as unknown, 'excluded');
  const callsign = (c: Raw) => String(c.callsign ?? c.unit_callsign ?? c.name ?? (c.unit as Raw)?.callsign ?? `#${c.unit_id ?? c.id}`);
  const reasons = (c: Raw): string[] => {
    const v = c.reasons ?? c.reason ?? c.why ?? [];
    return (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'string' ? x : String((x as Raw).text ?? (x as Raw).message ?? (x as Raw).code ?? JSON.stringify(x))));
  };
  const recommendedId = num(r.recommended_unit_id ?? (r.recommended as Raw | undefined)?.unit_id);
  return {
    candidates: cands
      .filter((c) => !c.excluded)
      .map((c, i) => {
        const unitId = num(c.unit_id ?? (c.unit as Raw)?.id ?? c.id);
        return {
          unitId,
          callsign: callsign(c),
          etaS: Number.isFinite(num(c.eta_s ?? c.eta_seconds ?? c.eta)) ? num(c.eta_s ?? c.eta_seconds ?? c.eta) : undefined,
          reasons: reasons(c),
          recommended: Number.isFinite(recommendedId) ? recommendedId === unitId : i === 0,
        };
      }),
    excluded: [...excl, ...cands.filter((c) => c.excluded)].map((c) => ({
      unitId: num(c.unit_id ?? c.id),
      callsign: callsign(c),
      reason: reasons(c).join('; '),
    })),
    raw: r,
  };
}

export async function getRecommendation(incidentId: number): Promise<Recommendation> {
  return toRecommendation(await get<Raw>(`${API}/incidents/${incidentId}/recommendation`));
}

export const dispatchUnit = (incidentId: number, unitId: number) =>
  post<Raw>(`${API}/incidents/${incidentId}/dispatch`, { unit_id: unitId }, { 'Idempotency-Key': idempotencyKey() });

export const reassignUnit = (incidentId: number, fromUnit: number, toUnit: number) =>
  post<Raw>(`${API}/incidents/${incidentId}/reassign`, { from_unit_id: fromUnit, to_unit_id: toUnit, unit_id: toUnit });

export const cancelIncident = (incidentId: number, reason: string) =>
  post<Raw>(`${API}/incidents/${incidentId}/cancel`, { reason });

export async function getTimeline(incidentId: number): Promise<TimelineItem[]> {
  return list(await get(`${API}/incidents/${incidentId}/timeline`), 'effective', 'events').map((e) => ({
    id: e.id as number | undefined,
    kind: String(e.kind),
    at: String(e.at),
    label: (e.label ?? undefined) as string | undefined,
    unitId: e.unit_id as number | undefined,
    payload: (e.payload ?? {}) as Raw,
  }));
}
