// Planning runs over the API: start a simulation or a comparison, list runs, fetch one with its results, delete one.
import { parse } from 'yaml';
import { API, must, typed, type Schemas } from '../api/client';

export type RunBrief = Schemas['RunBrief'];
export type RunOut = Schemas['RunOut'];

/** One figure over the replications: mean and 95% interval (and, in a comparison's difference, `significant`). */
export interface Figure {
  mean: number | null;
  half_width?: number | null;
  low?: number | null;
  high?: number | null;
  n?: number;
  significant?: boolean;
}
export type Summary = Record<string, Figure>;

/** Runs newest first, `limit` of them from `offset`. */
export const listRuns = (offset: number, limit: number) =>
  must(typed.GET('/api/v1/planning/runs', { params: { query: { limit, offset } } }));
export const getRun = (id: string) => must(typed.GET('/api/v1/planning/runs/{run_id}', { params: { path: { run_id: id } } }));
/** Delete a run with its results and files; a running one is stopped (its creator or an admin). */
export const deleteRun = (id: string) => must(typed.DELETE('/api/v1/planning/runs/{run_id}', { params: { path: { run_id: id } } }));

export function startRun(scenario: object, variant: object | null, replications: number | null): Promise<RunOut> {
  const body = { scenario, ...(variant ? { variant } : {}), ...(replications ? { replications } : {}) };
  return must(typed.POST('/api/v1/planning/runs', { body: body as Schemas['RunIn'] }));
}

/** Where a run's file is served (the session cookie signs the request in, so a plain link works). */
export const fileUrl = (id: string, name: string) => `${API}/planning/runs/${encodeURIComponent(id)}/${name}`;

/** A scenario file's text (YAML, as `lifechain plan run` reads it, or JSON, which is YAML too) as an object. */
export function readScenario(text: string): object {
  // YAML 1.1, as PyYAML (`plan run`) reads it: `yes`/`no` are booleans in both.
  const doc: unknown = parse(text, { version: '1.1' });
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('a scenario file holds a mapping (name, seed, stations, ...)');
  return doc;
}

/** The figures of a summary for a target in minutes, e.g. `within(summary, 'p1', 8)`. */
export const within = (summary: Summary, group: string, minutes: number) => summary[`${group}.within_${minutes}_min`];

/** The priorities (`p1`, `p2`, ...) and areas (`area:x`) a summary has figures for, in order. */
export function groups(summary: Summary): string[] {
  const seen = new Set<string>();
  for (const key of Object.keys(summary)) {
    const group = key.split('.')[0];
    if (/^p\d+$/.test(group) || group.startsWith('area:')) seen.add(group);
  }
  // As the HTML report orders them: priorities, then areas.
  return ['all', ...[...seen].sort((a, b) => Number(a.startsWith('area:')) - Number(b.startsWith('area:')) || a.localeCompare(b))];
}

/** The response-time targets (minutes) a summary has shares for, ascending. */
export function targets(summary: Summary): number[] {
  const found = new Set<number>();
  for (const key of Object.keys(summary)) {
    const m = /^all\.within_(\d+(?:\.\d+)?)_min$/.exec(key);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}
