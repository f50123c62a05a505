// Volunteer first responders: alerts and their actions, on-duty, responders of an incident, AEDs.
import { API, get, post } from '../api/client';
import { latLon } from '../dispatch/api';
import { routeCoords } from '../geo/api';

type Raw = Record<string, unknown>;

export interface Alert {
  id: number;
  incidentId?: number;
  status: string;
  role?: string;
  lat: number;
  lon: number;
  nature?: string;
  address?: string;
  distanceM?: number;
  aed?: { lat: number; lon: number; name?: string };
  route: [number, number][];
  standDown: boolean;
  raw: Raw;
}

export interface Responder {
  id: number;
  name?: string;
  role?: string;
  status: string;
  lat: number;
  lon: number;
  route: [number, number][];
}

export interface Aed {
  id: number;
  name?: string;
  lat: number;
  lon: number;
}

const items = (d: unknown, ...keys: string[]): Raw[] => {
  if (Array.isArray(d)) return d as Raw[];
  for (const k of [...keys, 'items']) if (Array.isArray((d as Raw)?.[k])) return (d as Raw)[k] as Raw[];
  return [];
};

export function toAlert(r: Raw): Alert {
  const target = (r.incident ?? r.target ?? r.patient ?? r) as Raw;
  const aedRaw = (r.aed ?? undefined) as Raw | undefined;
  const status = String(r.status ?? 'alerted');
  return {
    id: Number(r.id ?? r.alert_id),
    incidentId: (r.incident_id ?? target.id) as number | undefined,
    status,
    role: (r.role ?? undefined) as string | undefined,
    ...latLon(target),
    nature: (r.nature ?? target.nature ?? undefined) as string | undefined,
    address: (r.address ?? target.address ?? undefined) as string | undefined,
    distanceM: (r.distance_m ?? undefined) as number | undefined,
    aed: aedRaw ? { ...latLon(aedRaw), name: aedRaw.name as string | undefined } : undefined,
    route: routeCoords(r.route),
    standDown: /stood|stand|not_needed|cancel/.test(status) || Boolean(r.stood_down),
    raw: r,
  };
}

export async function myAlerts(): Promise<Alert[]> {
  return items(await get(`${API}/volunteers/me/alerts`), 'alerts').map(toAlert);
}

export const alertAction = (alertId: number, action: string, body: Raw = {}) =>
  post<Raw>(`${API}/alerts/${alertId}/${action}`, body);

export async function getDuty(): Promise<boolean> {
  const me = await get<Raw>(`${API}/volunteers/me`);
  return Boolean(me.on_duty);
}

export const setDuty = (onDuty: boolean, lat?: number, lon?: number) =>
  post<Raw>(`${API}/volunteers/me/duty`, { on_duty: onDuty, lat, lon });

export async function incidentResponders(incidentId: number): Promise<Responder[]> {
  return items(await get(`${API}/incidents/${incidentId}/responders`), 'responders').map((r) => ({
    id: Number(r.id ?? r.volunteer_id ?? r.alert_id),
    name: (r.name ?? r.display_name ?? undefined) as string | undefined,
    role: (r.role ?? undefined) as string | undefined,
    status: String(r.status ?? ''),
    ...latLon(r),
    route: routeCoords(r.route),
  }));
}

export async function listAeds(city: string): Promise<Aed[]> {
  return items(await get(`${API}/aeds?city=${encodeURIComponent(city)}`), 'aeds').map((r) => ({
    id: Number(r.id),
    name: (r.name ?? r.location_name ?? undefined) as string | undefined,
    ...latLon(r),
  }));
}
