// Volunteer first responders (volunteers/schemas.py): my alerts and actions, duty, location, the dispatcher's
// view of an incident's responders, AEDs.
import { API, get, http, must, post, typed, type Schemas } from '../api/client';

type Raw = Record<string, unknown>;

/** What a volunteer sees of a call (MyAlertOut): place, nature, role, route. Nothing medical by design. */
export type MyAlert = Omit<Schemas['MyAlertOut'], 'route'> & { route: [number, number][] };
/** One alerted responder as the dispatcher sees them (generated type). */
export type Responder = Schemas['ResponderOut'];
/** The first response of an incident (generated type). */
export type Response = Schemas['ResponseOut'];
/** What a responder reports (accept, decline, arrived, ...). */
export type Action = Schemas['ActionIn']['action'];

/** Map colour of a responder's role (CPR, AED runner, coordinator). */
export const ROLE_COLOR: Record<string, string> = { cpr: '#d81b60', aed: '#00897b', coordinator: '#6a1b9a' };

export interface Aed {
  id: number;
  lat: number;
  lon: number;
  accessible: boolean;
}

const asAlert = (a: Schemas['MyAlertOut']): MyAlert => ({ ...a, route: (a.route ?? []).map((p) => [p[0], p[1]] as [number, number]) });

export const myAlerts = async () => (await must(typed.GET('/api/v1/volunteers/me/alerts'))).map(asAlert);
export const myAlert = async (incidentId: number) =>
  asAlert(await must(typed.GET('/api/v1/volunteers/me/alerts/{incident_id}', { params: { path: { incident_id: incidentId } } })));
export async function alertAction(incidentId: number, action: Schemas['ActionIn']['action']): Promise<MyAlert | null> {
  const r = await typed.POST('/api/v1/volunteers/me/alerts/{incident_id}/actions', { params: { path: { incident_id: incidentId } }, body: { action } });
  if (r.error !== undefined) return must(Promise.resolve(r)).then(() => null);
  return r.data ? asAlert(r.data) : null;
}

export async function getDuty(): Promise<boolean> {
  return Boolean((await get<Raw>(`${API}/volunteers/me`)).on_duty);
}
export const setDuty = (onDuty: boolean) => http<Raw>('PUT', `${API}/volunteers/me/duty`, { on_duty: onDuty });
export const heartbeat = () => post<void>(`${API}/volunteers/me/heartbeat`);
export const setLocation = (lat: number, lon: number) => http<Raw>('PUT', `${API}/volunteers/me/location`, { lat, lon });

export async function incidentResponse(incidentId: number): Promise<Response | null> {
  try {
    return await must(typed.GET('/api/v1/incidents/{incident_id}/responders', { params: { path: { incident_id: incidentId } } }));
  } catch {
    return null;
  }
}

export const alertResponders = (incidentId: number, body: Schemas['ResponseIn']) =>
  must(typed.POST('/api/v1/incidents/{incident_id}/responders', { params: { path: { incident_id: incidentId } }, body }));

export async function listAeds(city: string): Promise<Aed[]> {
  const items = await must(typed.GET('/api/v1/aeds', { params: { query: { city } } }));
  return items.map((r) => ({ id: r.id, lat: r.lat, lon: r.lon, accessible: r.accessible_now }));
}

/** Subscribe this browser to Web Push with the server's VAPID key and store the subscription; false when the
 * server has no key or the browser cannot (no service worker, permission refused). */
export async function subscribePush({ ask }: { ask: boolean }): Promise<boolean> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || typeof Notification === 'undefined') return false;
  const { public_key: key } = await must(typed.GET('/api/v1/volunteers/push-key'));
  if (!key) return false;
  // The permission prompt only from a tap (going on duty); otherwise only an earlier grant is used.
  if (ask && Notification.permission === 'default' && (await Notification.requestPermission()) !== 'granted') return false;
  if (Notification.permission !== 'granted') return false;
  const reg = await navigator.serviceWorker.ready;
  const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlBytes(key) }));
  const json = sub.toJSON();
  if (!json.endpoint || !json.keys) return false;
  await must(typed.PUT('/api/v1/volunteers/me/push-subscription', { body: { endpoint: json.endpoint, keys: json.keys } }));
  return true;
}

function base64UrlBytes(text: string): Uint8Array<ArrayBuffer> {
  const b64 = (text + '='.repeat((4 - (text.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
