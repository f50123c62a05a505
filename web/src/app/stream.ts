// The live stream (/api/v1/stream, server-sent events). Event names are the server's domain event kinds, so the
// stream is read with fetch and parsed here (EventSource only delivers names it was told in advance). On a drop
// we show it, reconnect with `since=<last id>` (the server replays what we missed) and refetch (catch-up).
import { useEffect, useRef, useState } from 'react';
import { API } from '../api/client';

export interface StreamEvent {
  type: string;
  data: Record<string, unknown>;
  id?: string;
}

/** Parse complete SSE blocks from `buffer`; returns the events and the unparsed rest. */
export function parseSse(buffer: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = [];
  const blocks = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let type = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (!data.length && type === 'message') continue;
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      parsed = { raw: data.join('\n') };
    }
    events.push({ type, data: parsed, id });
  }
  return { events, rest };
}

export function useStream(onEvent: (e: StreamEvent) => void, onReconnect: () => void, path = `${API}/stream`) {
  const [connected, setConnected] = useState<boolean | null>(null);
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };
  useEffect(() => {
    const abort = new AbortController();
    let connection: AbortController | null = null;
    let lastId: string | undefined;
    let wasDown = false;
    let wake: () => void = () => undefined;
    // The browser knows before TCP does when the network went away: drop the connection at once.
    const onOffline = () => connection?.abort();
    const onOnline = () => wake();
    addEventListener('offline', onOffline);
    addEventListener('online', onOnline);
    const pause = (ms: number) => new Promise<void>((resolve) => {
      const id = setTimeout(resolve, ms);
      wake = () => { clearTimeout(id); resolve(); };
    });
    const loop = async () => {
      let delay = 500;
      while (!abort.signal.aborted) {
        connection = new AbortController();
        const stop = () => connection?.abort();
        abort.signal.addEventListener('abort', stop);
        try {
          const url = lastId ? `${path}?since=${encodeURIComponent(lastId)}` : path;
          const resp = await fetch(url, { credentials: 'same-origin', signal: connection.signal, headers: { Accept: 'text/event-stream' } });
          if (!resp.ok || !resp.body) throw new Error(`stream ${resp.status}`);
          setConnected(true);
          delay = 500;
          if (wasDown) handlers.current.onReconnect();
          wasDown = false;
          const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const { events, rest } = parseSse(buffer + value);
            buffer = rest;
            for (const ev of events) {
              if (ev.id) lastId = ev.id;
              handlers.current.onEvent(ev);
            }
          }
          throw new Error('stream ended');
        } catch {
          if (abort.signal.aborted) return;
          setConnected(false);
          wasDown = true;
          await pause(navigator.onLine ? delay : 30000);
          delay = Math.min(delay * 2, 5000);
        } finally {
          abort.signal.removeEventListener('abort', stop);
        }
      }
    };
    void loop();
    return () => {
      abort.abort();
      removeEventListener('offline', onOffline);
      removeEventListener('online', onOnline);
    };
  }, [path]);
  return connected;
}

/** The current time in ms, ticking every `periodMs`. */
export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(id);
  }, [periodMs]);
  return now;
}

/** Polls `fn` every `ms` (the crew app; the volunteer app only while its own stream is down). */
export function usePoll(fn: () => void, ms: number) {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const id = setInterval(() => ref.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
