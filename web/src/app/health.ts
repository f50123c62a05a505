// What the server works around and an operator should fix (`GET /api/v1/health`'s `problems`: a city's alert policy
// file broken, a city's files damaged). The staff's screens show them (`ServerProblems`), so that the people who
// depend on the server see it is degraded and can call the operator, instead of the log alone knowing.
import { useEffect, useState } from 'react';
import { typed, type Schemas } from '../api/client';

export const HEALTH_POLL_MS = 30000;

/** One problem: `code` says what, `city` where, `text` says it in each language ({en, zh-CN}). */
export type Problem = Schemas['ProblemOut'];

/** The server's `/health`: its version and its problems (none until the first answer, or while it cannot be reached). */
export async function fetchHealth(): Promise<{ version: string; problems: Problem[] }> {
  const { data } = await typed.GET('/api/v1/health');
  return { version: data?.version ?? '', problems: data?.problems ?? [] };
}

/** The server's problems, asked now and every `pollMs`. */
export function useServerProblems(pollMs = HEALTH_POLL_MS): Problem[] {
  const [problems, setProblems] = useState<Problem[]>([]);
  useEffect(() => {
    let live = true;
    const ask = () => void fetchHealth().then((h) => live && setProblems(h.problems)).catch(() => undefined);
    ask();
    const id = setInterval(ask, pollMs);
    return () => {
      live = false;
      clearInterval(id);
    };
  }, [pollMs]);
  return problems;
}
