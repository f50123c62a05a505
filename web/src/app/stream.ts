// The live stream (/api/v1/stream, server-sent events): EventSource reconnects by itself and sends Last-Event-ID,
// so the server replays what we missed; we also refetch on reconnect so nothing is stale after a long outage.
import { useEffect, useRef, useState } from 'react';
import { API } from '../api/client';

export interface StreamEvent {
  type: string;
  data: Record<string, unknown>;
  id?: string;
}

const NAMED = [
  'incident', 'incident_created', 'incident_updated', 'incident.updated', 'incident.created', 'unit', 'unit_status',
  'unit.status', 'unit_updated', 'unit.updated', 'unit_position', 'unit.position', 'timeline', 'timeline_event',
  'timeline.event', 'responder', 'responder_updated', 'alert', 'volunteer', 'volunteers', 'hospital', 'hospital.updated',
  'assignment', 'dispatch', 'ping', 'heartbeat',
];

export function useStream(onEvent: (e: StreamEvent) => void, onReconnect: () => void, path = `${API}/stream`) {
  const [connected, setConnected] = useState<boolean | null>(null);
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };
  useEffect(() => {
    let es: EventSource | null = null;
    let wasDown = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const handle = (ev: MessageEvent) => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(ev.data);
      } catch {
        data = { raw: ev.data };
      }
      handlers.current.onEvent({ type: ev.type === 'message' ? String(data.type ?? data.kind ?? 'message') : ev.type, data, id: ev.lastEventId });
    };
    const open = () => {
      es = new EventSource(path, { withCredentials: true });
      es.onopen = () => {
        setConnected(true);
        if (wasDown) handlers.current.onReconnect();
        wasDown = false;
      };
      es.onerror = () => {
        setConnected(false);
        wasDown = true;
        // A closed EventSource (e.g. HTTP error) does not retry by itself: reopen it.
        if (es && es.readyState === EventSource.CLOSED && !closed) {
          es.close();
          retry = setTimeout(open, 2000);
        }
      };
      es.onmessage = handle;
      for (const name of NAMED) es.addEventListener(name, handle as EventListener);
    };
    open();
    return () => {
      closed = true;
      clearTimeout(retry);
      es?.close();
    };
  }, [path]);
  return connected;
}

/** Seconds since an ISO time, ticking every second. */
export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(id);
  }, [periodMs]);
  return now;
}

export function fmtDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
