// Unit statuses with their display colour and the order a crew moves through them (labels live in i18n: st_*).
import type { Key } from '../i18n';

export const UNIT_STATUSES = [
  'available_at_station',
  'dispatched',
  'en_route',
  'on_scene',
  'transporting',
  'at_hospital',
  'available_returning',
  'out_of_service',
] as const;
export type UnitStatus = (typeof UNIT_STATUSES)[number];

export const STATUS_COLOR: Record<string, string> = {
  available_at_station: '#2e7d32',
  available_returning: '#7cb342',
  dispatched: '#f57c00',
  en_route: '#fbc02d',
  on_scene: '#d32f2f',
  transporting: '#8e24aa',
  at_hospital: '#1565c0',
  out_of_service: '#757575',
};

/** What the crew taps next from a status (the one-tap sequence of the crew app). */
export const CREW_NEXT: Record<string, string[]> = {
  dispatched: ['en_route'],
  en_route: ['on_scene'],
  on_scene: ['transporting', 'available_returning'],
  transporting: ['at_hospital'],
  at_hospital: ['available_returning'],
  available_returning: ['available_at_station'],
  available_at_station: [],
  out_of_service: ['available_at_station'],
};

export const statusKey = (s: string) => `st_${s}` as Key;
export const statusColor = (s: string) => STATUS_COLOR[s] ?? '#607d8b';
