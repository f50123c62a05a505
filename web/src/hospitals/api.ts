// Hospitals with their capabilities and diversion.
import { API, get } from '../api/client';
import { latLon } from '../dispatch/api';

type Raw = Record<string, unknown>;

export interface Hospital {
  id: number;
  name: string;
  lat: number;
  lon: number;
  diversion: boolean;
  diversionReason?: string;
  raw: Raw;
}

export async function listHospitals(): Promise<Hospital[]> {
  const items = await get<Raw[]>(`${API}/hospitals`);
  const now = Date.now();
  return items.map((r) => ({
    id: Number(r.id),
    name: String(r.name),
    ...latLon(r),
    diversion: typeof r.diverted_until === 'string' && Date.parse(r.diverted_until) > now,
    diversionReason: (r.diversion_reason ?? undefined) as string | undefined,
    raw: r,
  }));
}
