// Volunteer first responders (volunteers/schemas.py): my alerts and actions, duty, location, the dispatcher's
// view of an incident's responders, AEDs.
import { API, get, post, http } from '../api/client';
import { latLon } from '../dispatch/api';

type Raw = Record<string, unknown>;

/** What a volunteer sees of a call (MyAlertOut): place, nature, role, route. Nothing medical by design. */
export interface MyAlert {
  incident_id: number;
  nature: string;
  nature_label: string;
  location: { lat: number; lon: number };
  address: string | null;
  role: 'cpr' | 'aed' | 'coordinator';
  state: string;
  eta_s: number;
  aed: { id: number; lat: number; lon: number; indoor: string } | null;
  route: [number, number][];
}

export interface Responder {
  responder_id: number;
  kind: string;
  name: string | null;
  role: string;
  accepted_role: string | null;
  state: string;
  state_label: string;
  eta_s: number;
  aed_id: number | null;
  phase: number;
}

export interface Response {
  incident_id: number;
  nature: string;
  phase: number;
  active: boolean;
  blocked_by: string[];
  stood_down_at: string | null;
  responders: Responder[];
}

export interface Aed {
  id: number;
  lat: number;
  lon: number;
  accessible: boolean;
}

export const myAlerts = () => get<MyAlert[]>(`${API}/volunteers/me/alerts`);
export const myAlert = (incidentId: number) => get<MyAlert>(`${API}/volunteers/me/alerts/${incidentId}`);
export const alertAction = (incidentId: number, action: string) =>
  post<MyAlert | null>(`${API}/volunteers/me/alerts/${incidentId}/actions`, { action });

export async function getDuty(): Promise<boolean> {
  return Boolean((await get<Raw>(`${API}/volunteers/me`)).on_duty);
}
export const setDuty = (onDuty: boolean) => http<Raw>('PUT', `${API}/volunteers/me/duty`, { on_duty: onDuty });
export const heartbeat = () => post<void>(`${API}/volunteers/me/heartbeat`);
export const setLocation = (lat: number, lon: number) => http<Raw>('PUT', `${API}/volunteers/me/location`, { lat, lon });

export async function incidentResponse(incidentId: number): Promise<Response | null> {
  try {
    return await get<Response>(`${API}/incidents/${incidentId}/responders`);
  } catch {
    return null;
  }
}

export const alertResponders = (incidentId: number, body: Raw) =>
  post<Response>(`${API}/incidents/${incidentId}/responders`, body);

export async function listAeds(city: string): Promise<Aed[]> {
  const items = await get<Raw[]>(`${API}/aeds?city=${encodeURIComponent(city)}`);
  return items.map((r) => ({ id: Number(r.id), ...latLon(r), accessible: Boolean(r.accessible_now) }));
}
