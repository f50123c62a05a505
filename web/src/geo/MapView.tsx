// The base map is the city's own road network as GeoJSON: no tile server, no glyphs, no sprites, no internet.
// Points (units, incidents, hospitals, volunteers, AEDs) are HTML markers so their labels need no font server.
import { Map as MlMap, Marker, NavigationControl, setWorkerUrl, type ExpressionSpecification, type GeoJSONSource, type LngLatBoundsLike, type StyleSpecification } from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
// The worker is its own file in maplibre-gl 6: ship it as an asset of the bundle and say where it is.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { useEffect, useRef, useState } from 'react';
import { useI18n } from '../i18n';
import { roadsUrl } from './api';

export interface MapPoint {
  id: string;
  lat: number;
  lon: number;
  color: string;
  label?: string;
  title?: string;
  shape?: 'dot' | 'square' | 'diamond' | 'cross';
  size?: number;
  pulse?: boolean;
  testid?: string;
}

export interface MapLine {
  id: string;
  coordinates: [number, number][]; // [lon, lat]
  color: string;
  dashed?: boolean;
}

interface Props {
  city: string;
  points: MapPoint[];
  lines?: MapLine[];
  onPick?: (lat: number, lon: number) => void;
  focus?: { lat: number; lon: number } | null;
  /** Keep these [lon, lat] points in view (phone maps: me, the patient, the AED, the route). */
  fitTo?: [number, number][];
  className?: string;
  /** Which network the base map draws: `drive` (default) or `walk` (the volunteers' paths). */
  mode?: 'drive' | 'walk';
}

setWorkerUrl(workerUrl);

const EMPTY: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };

const STYLE: StyleSpecification = {
  version: 8,
  sources: {
    roads: { type: 'geojson', data: EMPTY },
    routes: { type: 'geojson', data: EMPTY },
  },
  layers: [
    { id: 'background', type: 'background', paint: { 'background-color': '#e3e6ea' } },
    {
      id: 'roads-casing',
      type: 'line',
      source: 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#a9b0ba', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 1.5, 16, ['match', roadClass(), ['motorway', 'trunk', 'primary'], 10, ['secondary', 'tertiary'], 8, 5]] },
    },
    {
      id: 'roads',
      type: 'line',
      source: 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: {
        'line-color': ['match', roadClass(), ['motorway', 'trunk'], '#f3c27a', ['primary'], '#f7dca0', '#ffffff'],
        'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.8, 16, ['match', roadClass(), ['motorway', 'trunk', 'primary'], 7, ['secondary', 'tertiary'], 5.5, 3]],
      },
    },
    {
      id: 'routes',
      type: 'line',
      source: 'routes',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ['get', 'color'], 'line-width': 4, 'line-opacity': 0.85 },
    },
  ],
};

function roadClass(): ExpressionSpecification {
  return ['coalesce', ['get', 'class'], ['get', 'road_class'], ['get', 'highway'], 'other'] as ExpressionSpecification;
}

function bboxOf(fc: GeoJSON.FeatureCollection): LngLatBoundsLike | null {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  const visit = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [x, y] = c as number[];
      if (x < w) w = x;
      if (x > e) e = x;
      if (y < s) s = y;
      if (y > n) n = y;
    } else if (Array.isArray(c)) c.forEach(visit);
  };
  for (const f of fc.features) if (f.geometry && 'coordinates' in f.geometry) visit(f.geometry.coordinates);
  return Number.isFinite(w) ? [[w, s], [e, n]] : null;
}

export function MapView({ city, points, lines = [], onPick, focus, fitTo, className, mode = 'drive' }: Props) {
  const { t } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const map = useRef<MlMap | null>(null);
  const markers = useRef(new Map<string, { marker: Marker; key: string }>());
  const pick = useRef(onPick);
  pick.current = onPick;
  const fitRef = useRef(fitTo);
  fitRef.current = fitTo;
  const [state, setState] = useState<{ loaded: boolean; roads: number; error?: string }>({ loaded: false, roads: 0 });

  useEffect(() => {
    if (!box.current) return;
    const m = new MlMap({
      container: box.current,
      style: STYLE,
      center: [0, 0],
      zoom: 1,
      attributionControl: false,
      fadeDuration: 0,
    });
    m.addControl(new NavigationControl({ showCompass: false }), 'top-right');
    m.on('click', (ev: { lngLat: { lat: number; lng: number } }) => pick.current?.(ev.lngLat.lat, ev.lngLat.lng));
    map.current = m;
    let cancelled = false;
    m.on('load', async () => {
      try {
        const resp = await fetch(roadsUrl(city, 16, mode), { credentials: 'same-origin' });
        if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
        const fc = (await resp.json()) as GeoJSON.FeatureCollection;
        if (cancelled) return;
        (m.getSource('roads') as GeoJSONSource).setData(fc);
        const wanted = fitRef.current?.length ? fitRef.current : null;
        const bounds = wanted ? bboxOf({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'MultiPoint', coordinates: wanted } }] }) : bboxOf(fc);
        if (bounds) m.fitBounds(bounds, { padding: 40, animate: false, maxZoom: 17 });
        const segments = fc.features.reduce((n, f) => n + Number(f.properties?.segments ?? 1), 0);
        setState({ loaded: true, roads: segments });
      } catch (err) {
        if (!cancelled) setState({ loaded: true, roads: 0, error: String((err as Error).message ?? err) });
      }
    });
    const ro = new ResizeObserver(() => m.resize());
    ro.observe(box.current);
    return () => {
      cancelled = true;
      ro.disconnect();
      markers.current.forEach(({ marker }) => marker.remove());
      markers.current.clear();
      m.remove();
      map.current = null;
    };
  }, [city, mode]);

  // Points: add, move or remove HTML markers by id; rebuild one only when its look changed.
  useEffect(() => {
    const m = map.current;
    if (!m) return;
    const seen = new Set<string>();
    for (const p of points) {
      if (!Number.isFinite(p.lat) || !Number.isFinite(p.lon)) continue;
      seen.add(p.id);
      const key = `${p.color}|${p.label}|${p.shape}|${p.size}|${p.pulse}|${p.title}`;
      const prev = markers.current.get(p.id);
      if (prev && prev.key === key) {
        prev.marker.setLngLat([p.lon, p.lat]);
        continue;
      }
      prev?.marker.remove();
      const marker = new Marker({ element: markerElement(p) }).setLngLat([p.lon, p.lat]).addTo(m);
      markers.current.set(p.id, { marker, key });
    }
    for (const [id, { marker }] of markers.current) {
      if (!seen.has(id)) {
        marker.remove();
        markers.current.delete(id);
      }
    }
  }, [points]);

  useEffect(() => {
    const m = map.current;
    if (!m) return;
    const data: GeoJSON.FeatureCollection = {
      type: 'FeatureCollection',
      features: lines.map((l) => ({
        type: 'Feature',
        properties: { id: l.id, color: l.color },
        geometry: { type: 'LineString', coordinates: l.coordinates },
      })),
    };
    const apply = () => (m.getSource('routes') as GeoJSONSource | undefined)?.setData(data);
    if (m.isStyleLoaded()) apply();
    else m.once('load', apply);
  }, [lines]);

  const fitKey = fitTo?.length ? JSON.stringify(bboxOf({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'MultiPoint', coordinates: fitTo } }] })) : '';
  useEffect(() => {
    const m = map.current;
    if (!m || !fitKey || !state.loaded) return;
    m.fitBounds(JSON.parse(fitKey), { padding: 40, maxZoom: 17, duration: 0 });
  }, [fitKey, state.loaded]);

  useEffect(() => {
    if (focus && map.current) map.current.easeTo({ center: [focus.lon, focus.lat], zoom: Math.max(map.current.getZoom(), 15) });
  }, [focus?.lat, focus?.lon]);

  return (
    <div className={`map-wrap ${className ?? ''}`}>
      <div ref={box} className="map" data-testid="map" data-roads={state.roads} data-loaded={state.loaded ? '1' : '0'} data-lines={lines.map((l) => `${l.id}:${l.coordinates.length}`).join(' ')} />
      {!state.loaded && <div className="map-note">{t('map_loading')}</div>}
      {state.error && <div className="map-note error">{t('map_error', { msg: state.error })}</div>}
    </div>
  );
}

function markerElement(p: MapPoint): HTMLElement {
  const el = document.createElement('div');
  el.className = `mk mk-${p.shape ?? 'dot'}${p.pulse ? ' mk-pulse' : ''}`;
  if (p.testid) el.dataset.testid = p.testid;
  el.title = p.title ?? p.label ?? '';
  const size = p.size ?? 14;
  const sym = document.createElement('span');
  sym.className = 'mk-sym';
  sym.style.background = p.color;
  sym.style.width = sym.style.height = `${size}px`;
  el.appendChild(sym);
  if (p.label) {
    const lab = document.createElement('span');
    lab.className = 'mk-label';
    lab.textContent = p.label;
    el.appendChild(lab);
  }
  return el;
}
