// Hospitals with their capabilities and diversion.
import { must, typed } from '../api/client';

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
  const items = await must(typed.GET('/api/v1/hospitals'));
  const now = Date.now();
  return items.map((r) => ({
    id: r.id,
    name: r.name,
    lat: r.location.lat,
    lon: r.location.lon,
    diversion: !!r.diverted_until && Date.parse(r.diverted_until) > now,
    diversionReason: r.diversion_reason ?? undefined,
    raw: r as unknown as Raw,
  }));
}
