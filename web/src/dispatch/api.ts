// Dispatch endpoints (incidents, protocol triage, recommendation, dispatch / reassign / stand-down / cancel,
// timeline) with the shapes of dispatch/schemas.py and the timeline's TimelineOut.
import { API, get, idempotencyKey, must, post, typed, type Schemas } from '../api/client';

type Raw = Record<string, unknown>;
export type Text = Record<string, string>;

export interface Incident {
  id: number;
  /** 1 (critical) to 4; null until triaged. */
  priority: number | null;
  status: string;
  lat: number;
  lon: number;
  callAt: string;
  determinant?: string;
  suspectedArrest: boolean;
  volunteersPlanned: boolean;
  complaint?: string;
  address?: string;
  city: string;
  /** Units on the call now (assignments not ended). */
  units: number[];
  destinationHospitalId: number | null;
  raw: Raw;
}

export interface Question {
  id: string;
  text: Text;
  kind: 'choice' | 'number';
  answers: { id: string; text: Text }[];
  min?: number | null;
  max?: number | null;
}

export interface Card {
  id: string;
  number: number;
  label: Text;
  questions: Question[];
}

export interface ProtocolSpec {
  version: string;
  priorities: Record<string, Text>;
  entry_questions: Question[];
  tcpr_prompts: Text[];
  cards: Card[];
}

/** The determinant the server computed (the protocol's `Determinant.to_dict`). */
export interface Determinant {
  code: string;
  priority: number;
  priority_label: Text;
  pathways: string[];
  suspected_arrest: boolean;
  response_plan: { id: string; label: Text; volunteers: boolean; aed: boolean };
  reasons: Text[];
  tcpr_prompts: Text[];
  complaint?: string;
}

export interface TriageState {
  complaint: string | null;
  answers: Record<string, string | number>;
  nextQuestions: string[];
  determinant?: Determinant;
}

/** One unit considered for a call, with its ETA and why it is flagged or excluded (generated type). */
export type Candidate = Schemas['CandidateOut'];
/** Units ranked by ETA with reasons, and the destination (generated type). */
export type Recommendation = Schemas['RecommendationOut'];

export interface TimelineItem {
  id: number;
  kind: string;
  at: string;
  unitId: number | null;
  actor: string;
  payload: Raw;
}

const num = (v: unknown): number => (v === null || v === undefined || v === '' ? NaN : Number(v));

export function latLon(r: Raw): { lat: number; lon: number } {
  const loc = (r.location ?? r.position) as Raw | null | undefined;
  return { lat: num(r.lat ?? loc?.lat), lon: num(r.lon ?? loc?.lon) };
}

export const PRIORITY_COLOR = (p: number | null) =>
  p === null ? '#6a1b9a' : p <= 1 ? '#c62828' : p === 2 ? '#ef6c00' : p === 3 ? '#f9a825' : '#2e7d32';

export function toIncident(r: Schemas['IncidentOut']): Incident {
  const det = (r.determinant ?? null) as Determinant | null;
  const assignments = r.assignments ?? [];
  return {
    id: num(r.id),
    priority: r.priority === null || r.priority === undefined ? null : num(r.priority),
    status: String(r.status ?? ''),
    lat: r.location.lat,
    lon: r.location.lon,
    callAt: r.received_at,
    determinant: det?.code,
    suspectedArrest: Boolean(det?.suspected_arrest),
    volunteersPlanned: Boolean(det?.response_plan?.volunteers),
    complaint: r.complaint ?? undefined,
    address: r.address ?? undefined,
    city: r.city,
    units: assignments.filter((a) => !a.ended_at).map((a) => a.unit_id),
    destinationHospitalId: r.destination_hospital_id,
    raw: r as unknown as Raw,
  };
}

export async function listIncidents(): Promise<Incident[]> {
  return (await must(typed.GET('/api/v1/incidents'))).map(toIncident);
}

export const getIncident = async (id: number) =>
  toIncident(await must(typed.GET('/api/v1/incidents/{incident_id}', { params: { path: { incident_id: id } } })));

/** Open incidents: untriaged first (they may be anything), then by priority, then oldest call first. */
export function queueOrder(items: Incident[]): Incident[] {
  const rank = (i: Incident) => i.priority ?? 0;
  return [...items]
    .filter((i) => !['closed', 'cancelled'].includes(i.status))
    .sort((a, b) => rank(a) - rank(b) || Date.parse(a.callAt) - Date.parse(b.callAt) || a.id - b.id);
}

export async function createIncident(body: Schemas['IncidentIn']): Promise<Incident> {
  const call = typed.POST('/api/v1/incidents', { body, params: { header: { 'Idempotency-Key': idempotencyKey() } } });
  return toIncident(await must(call));
}

export const getProtocol = () => get<ProtocolSpec>(`${API}/protocol`);

export async function triage(incidentId: number, complaint: string, answers: Record<string, string | number>): Promise<TriageState> {
  const r = await must(typed.POST('/api/v1/incidents/{incident_id}/triage', { params: { path: { incident_id: incidentId } }, body: { complaint, answers } }));
  return { complaint, answers, nextQuestions: r.next_questions, determinant: r.determinant as unknown as Determinant };
}

/** A question of the protocol by id (entry questions and every card's). */
export function findQuestion(spec: ProtocolSpec, id: string): Question | undefined {
  return spec.entry_questions.find((q) => q.id === id) ?? spec.cards.flatMap((c) => c.questions).find((q) => q.id === id);
}

export const getRecommendation = (incidentId: number) =>
  must(typed.GET('/api/v1/incidents/{incident_id}/recommendation', { params: { path: { incident_id: incidentId } } }));

export const dispatchUnit = (incidentId: number, unitId: number) =>
  must(typed.POST('/api/v1/incidents/{incident_id}/dispatch', { params: { path: { incident_id: incidentId } }, body: { unit_id: unitId, divert: false } }));

export const reassignUnit = (incidentId: number, fromUnit: number, toUnit: number) =>
  post<Raw>(`${API}/incidents/${incidentId}/reassign`, { from_unit_id: fromUnit, to_unit_id: toUnit });

export const standDownUnit = (incidentId: number, unitId: number, reason: string) =>
  post<Raw>(`${API}/incidents/${incidentId}/units/${unitId}/stand-down`, { reason });

export const cancelIncident = (incidentId: number, reason: string) =>
  post<Raw>(`${API}/incidents/${incidentId}/cancel`, { reason });

export const closeIncident = (incidentId: number) => post<Raw>(`${API}/incidents/${incidentId}/close`);

export async function getTimeline(incidentId: number): Promise<TimelineItem[]> {
  const r = await must(typed.GET('/api/v1/incidents/{incident_id}/timeline', { params: { path: { incident_id: incidentId } } }));
  return r.effective.map((e) => ({ id: e.id, kind: e.kind, at: e.at, unitId: e.unit_id, actor: e.actor, payload: e.payload }));
}
