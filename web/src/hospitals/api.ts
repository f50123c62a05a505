// Hospitals with their diversion state.
import { API, get } from '../api/client';
import { latLon } from '../dispatch/api';

type Raw = Record<string, unknown>;

export interface Hospital {
  id: number;
  name: string;
  lat: number;
  lon: number;
  diversion: boolean;
  raw: Raw;
}

export async function listHospitals(): Promise<Hospital[]> {
  const d = await get<unknown>(`${API}/hospitals`);
  const items = (Array.isArray(d) ? d : ((d as Raw).items ?? (d as Raw).hospitals ?? [])) as Raw[];
  return items.map((r) => ({
    id: Number(r.id),
    name: String(r.name ?? r.short_name ?? `#${r.id}`),
    ...latLon(r),
    diversion: Boolean(r.diversion ?? r.on_diversion ?? (r.diversion_until ? true : false)),
    raw: r,
  }));
}
