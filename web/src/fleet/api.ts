// Units (status with its label and colour, GPS position, current call) and the crew's status changes.
import { API, must, post, typed, type Schemas } from '../api/client';
import type { Text } from '../dispatch/api';

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

export function toUnit(r: Schemas['UnitOut']): Unit {
  return {
    id: r.id,
    callsign: r.call_sign,
    type: r.type,
    status: r.status,
    statusLabel: r.status_label,
    statusColour: r.status_colour,
    lat: r.position?.lat ?? NaN,
    lon: r.position?.lon ?? NaN,
    incidentId: r.incident_id,
    raw: r as unknown as Raw,
  };
}

export async function listUnits(): Promise<Unit[]> {
  return (await must(typed.GET('/api/v1/units'))).map(toUnit);
}

export const getUnit = async (id: number) =>
  toUnit(await must(typed.GET('/api/v1/units/{unit_id}', { params: { path: { unit_id: id } } })));

export const setUnitStatus = (unitId: number, status: string, hospitalId?: number | null) =>
  post<Raw>(`${API}/units/${unitId}/status`, { status, hospital_id: hospitalId ?? undefined, source: 'crew_app' });
