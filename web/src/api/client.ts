// The API client: `typed` is generated from the server's OpenAPI (src/api/schema.d.ts, `npm run gen:api`);
// `http` is the same transport for calls whose response shapes are declared next to the feature that uses them.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

/** The server's API models, generated from its OpenAPI (`npm run gen:api`). */
export type Schemas = components['schemas'];

export const API = '/api/v1';

export const typed = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });

/** An error answered by the server: status, its `detail` message and `code`. */
export class ApiError extends Error {
  constructor(public status: number, message: string, public code?: string) {
    super(message);
  }
}

let bearer: string | null = null;

/** Use a bearer token (from /auth/token) instead of the session cookie. */
export function setBearer(token: string | null): void {
  bearer = token;
}

export async function http<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (bearer) (init.headers as Record<string, string>).Authorization = `Bearer ${bearer}`;
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path.startsWith('/') ? path : `${API}/${path}`, init);
  const text = await resp.text();
  if (resp.ok && text && !(resp.headers.get('content-type') ?? '').includes('json')) {
    throw new ApiError(resp.status, `not an API answer from ${path}`);
  }
  const data = text ? safeJson(text) : undefined;
  if (!resp.ok) throw apiError(resp.status, data, text || resp.statusText);
  return data as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const get = <T>(path: string) => http<T>('GET', path);
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>) => http<T>('POST', path, body, headers);

/** A fresh Idempotency-Key for a create that may be retried. */
export function idempotencyKey(): string {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** The data of a typed call, or an `ApiError` with the server's `detail` message. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || data === undefined) throw apiError(response.status, error, response.statusText);
  return data;
}

interface ErrorBody {
  detail?: unknown;
  code?: unknown;
  errors?: { field?: string; message?: string }[];
}

/** The error of an answer: the server's message and code from its body, else `fallback`. */
function apiError(status: number, body: unknown, fallback: string): ApiError {
  const known = body && typeof body === 'object' ? (body as ErrorBody) : undefined;
  const detail = known?.detail !== undefined ? errorText(known) : '';
  return new ApiError(status, detail || fallback, known?.code !== undefined ? String(known.code) : undefined);
}

/** The server's message, with what was wrong in each field of a 422 ("invalid request: scenario.seed: ..."). */
function errorText(body: ErrorBody): string {
  const fields = (Array.isArray(body.errors) ? body.errors : []).filter((e) => e.message).map((e) => {
    const where = (e.field ?? '').replace(/^(body|query|path)\.?/, '');
    return where ? `${where}: ${e.message}` : String(e.message);
  });
  return fields.length ? `${String(body.detail)}: ${fields.join('; ')}` : String(body.detail);
}
