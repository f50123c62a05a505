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
    let lastId: string | undefined;
    let wasDown = false;
    const loop = async () => {
      let delay = 500;
      while (!abort.signal.aborted) {
        try {
          const url = lastId ? `${path}?since=${encodeURIComponent(lastId)}` : path;
          const resp = await fetch(url, { credentials: 'same-origin', signal: abort.signal, headers: { Accept: 'text/event-stream' } });
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
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
        }
      }
    };
    void loop();
    return () => abort.abort();
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

/** Polls `fn` every `ms` (the volunteer and crew apps have no stream access). */
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
