// Geo endpoints: the city's road network, routes between two points and the address search.
import { API, get } from '../api/client';

export const roadsUrl = (city: string, zoom: number, mode = 'drive') =>
  `${API}/cities/${encodeURIComponent(city)}/roads?zoom=${Math.round(zoom)}&mode=${mode}`;

export interface Place {
  name: string;
  lat: number;
  lon: number;
  kind?: string;
}

export async function searchPlaces(city: string, q: string): Promise<Place[]> {
  const data = await get<unknown>(`${API}/cities/${encodeURIComponent(city)}/places?q=${encodeURIComponent(q)}`);
  const items = Array.isArray(data) ? data : ((data as { results?: unknown[] })?.results ?? []);
  return (items as Record<string, unknown>[]).map((p) => ({
    name: String(p.name ?? p.label ?? ''),
    lat: Number(p.lat ?? (p.location as { lat?: number })?.lat),
    lon: Number(p.lon ?? (p.location as { lon?: number })?.lon),
    kind: p.kind as string | undefined,
  }));
}

export interface RouteLine {
  coordinates: [number, number][];
  seconds?: number;
}

/** A route's geometry from any of the shapes a route answer may take (GeoJSON geometry or a list of points). */
export function routeCoords(route: unknown): [number, number][] {
  if (!route || typeof route !== 'object') return [];
  const r = route as Record<string, unknown>;
  const geom = (r.geometry ?? r.line ?? r.path ?? r.coordinates ?? r.points) as unknown;
  if (geom && typeof geom === 'object' && 'coordinates' in (geom as object)) {
    return (geom as { coordinates: [number, number][] }).coordinates;
  }
  if (Array.isArray(geom)) {
    return geom.map((c) =>
      Array.isArray(c) ? (c as [number, number]) : [Number((c as { lon: number }).lon), Number((c as { lat: number }).lat)],
    );
  }
  return [];
}

/** The fastest road route between two points ([lon, lat] pairs), or [] when there is none. */
export async function routeBetween(city: string, from: { lat: number; lon: number }, to: { lat: number; lon: number }, mode = 'drive'): Promise<[number, number][]> {
  const q = `from=${from.lat},${from.lon}&to=${to.lat},${to.lon}&mode=${mode}&profile=emergency`;
  try {
    return routeCoords(await get<unknown>(`${API}/cities/${encodeURIComponent(city)}/route?${q}`));
  } catch {
    return [];
  }
}
