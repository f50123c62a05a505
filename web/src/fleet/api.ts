// Units (status, position, assignment) and the crew's status changes.
import { API, get, post } from '../api/client';
import { latLon } from '../dispatch/api';

type Raw = Record<string, unknown>;

export interface Unit {
  id: number;
  callsign: string;
  status: string;
  lat: number;
  lon: number;
  incidentId?: number;
  station?: string;
  raw: Raw;
}

export function toUnit(r: Raw): Unit {
  const { lat, lon } = latLon(r);
  const inc = r.incident_id ?? r.assigned_incident_id ?? (r.assignment as Raw | undefined)?.incident_id;
  return {
    id: Number(r.id),
    callsign: String(r.callsign ?? r.name ?? r.code ?? `#${r.id}`),
    status: String(r.status ?? 'available_at_station'),
    lat,
    lon,
    incidentId: inc === null || inc === undefined ? undefined : Number(inc),
    station: (r.station_name ?? r.station ?? undefined) as string | undefined,
    raw: r,
  };
}

export async function listUnits(): Promise<Unit[]> {
  const d = await get<unknown>(`${API}/units`);
  const items = Array.isArray(d) ? d : ((d as Raw).items ?? (d as Raw).units ?? []);
  return (items as Raw[]).map(toUnit);
}

export const setUnitStatus = (unitId: number, status: string) =>
  post<Raw>(`${API}/units/${unitId}/status`, { status });
