// Units (status with its label and colour, GPS position, current call) and the crew's status changes.
import { API, get, post } from '../api/client';
import { latLon, type Text } from '../dispatch/api';

type Raw = Record<string, unknown>;

export interface Unit {
  id: number;
  callsign: string;
  type: string;
  status: string;
  statusLabel: Text;
  statusColour?: string;
  lat: number;
  lon: number;
  incidentId: number | null;
  raw: Raw;
}

export function toUnit(r: Raw): Unit {
  return {
    id: Number(r.id),
    callsign: String(r.call_sign ?? `#${r.id}`),
    type: String(r.type ?? ''),
    status: String(r.status),
    statusLabel: (r.status_label ?? {}) as Text,
    statusColour: r.status_colour as string | undefined,
    ...latLon(r),
    incidentId: (r.incident_id ?? null) as number | null,
    raw: r,
  };
}

export async function listUnits(): Promise<Unit[]> {
  return (await get<Raw[]>(`${API}/units`)).map(toUnit);
}

export const getUnit = async (id: number) => toUnit(await get<Raw>(`${API}/units/${id}`));

export const setUnitStatus = (unitId: number, status: string, hospitalId?: number | null) =>
  post<Raw>(`${API}/units/${unitId}/status`, { status, hospital_id: hospitalId ?? undefined, source: 'crew_app' });
