// The planning page (analyst): start a simulation of a scenario file, or compare a variant with it, follow the runs,
// read the key figures with their intervals, open the report and download every call.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { ServerProblems } from '../app/ServerProblems';
import type { Me } from '../auth/session';
import { LangSwitch, useI18n, type Key, type T } from '../i18n';
import {
  deleteRun, fileUrl, getRun, groups, listRuns, readScenario, startRun, targets, within,
  type Figure, type RunBrief, type RunOut, type Summary,
} from './api';

const PLANNERS = ['analyst', 'admin'];
const POLL_MS = 2000;
const IDLE_POLL_MS = 10000;
/** Runs listed at a time; older ones a page further on. */
const PAGE = 50;

export function Planning({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const { t } = useI18n();
  const [runs, setRuns] = useState<RunBrief[]>([]);
  const [offset, setOffset] = useState(0); // how many newer runs the page of the list skips
  const [older, setOlder] = useState(false); // whether runs older than the page exist
  const [selected, setSelected] = useState<string | null>(null);
  const [run, setRun] = useState<RunOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const roles = me.roles ?? [me.role];
  const allowed = roles.some((r) => PLANNERS.includes(r));

  const shownOffset = useRef(offset);
  shownOffset.current = offset;
  const refresh = useCallback(async () => {
    try {
      const page = await listRuns(offset, PAGE + 1); // one more than shown says whether there are older runs
      if (offset !== shownOffset.current) return; // the page was turned while this was on its way
      // A page emptied by deletions (here or elsewhere) gives way to the one before it.
      if (!page.length && offset > 0) return setOffset(Math.max(0, offset - PAGE));
      setOlder(page.length > PAGE);
      setRuns(page.slice(0, PAGE));
    } catch (err) {
      setError((err as Error).message);
    }
  }, [offset]);
  useEffect(() => {
    if (allowed) void refresh();
  }, [allowed, refresh]);
  // While a run is queued or running, ask again every two seconds; else every ten, for runs others start.
  const busy = runs.some((r) => unfinished(r.status));
  useEffect(() => {
    if (!allowed) return;
    const timer = setInterval(() => void refresh(), busy ? POLL_MS : IDLE_POLL_MS);
    return () => clearInterval(timer);
  }, [allowed, busy, refresh]);
  // The selected run with its results, fetched again when its status changes; its progress comes with the list.
  const brief = runs.find((r) => r.id === selected);
  const status = brief?.status;
  // A run deleted meanwhile (a 404) leaves the panel; any other failure is shown.
  const fetchRun = useCallback((id: string) => getRun(id).then(setRun).catch((err: Error) => {
    setError(err.message);
    if (err instanceof ApiError && err.status === 404) { setSelected(null); setRun(null); }
  }), []);
  useEffect(() => {
    if (selected) void fetchRun(selected);
  }, [selected, status, fetchRun]);
  // A selected run on another page of the list is followed on its own while it is queued or running.
  const followAlone = !brief && !!run && run.id === selected && unfinished(run.status);
  useEffect(() => {
    if (!followAlone || !selected) return;
    const timer = setInterval(() => void fetchRun(selected), POLL_MS);
    return () => clearInterval(timer);
  }, [followAlone, selected, fetchRun]);

  return (
    <div className="planning">
      <header className="topbar">
        <b>{t('app_name')} · {t('planning')}</b>
        <span className="spacer" />
        <LangSwitch />
        <span className="muted small">{me.display_name ?? me.username}</span>
        <button onClick={onSignOut}>{t('logout')}</button>
      </header>
      <div className="banners"><ServerProblems /></div>
      {!allowed ? (
        <p className="panel" data-testid="planning-refused">{t('planning_analysts_only', { role: me.role })}</p>
      ) : (
        <main className="planning-body">
          <section className="planning-side">
            <StartForm onStarted={(r) => { setSelected(r.id); if (offset) setOffset(0); else void refresh(); }} />
            <h2>{t('runs')}</h2>
            {error && <div className="error" role="alert">{error}</div>}
            <RunList runs={runs} selected={selected} onSelect={setSelected} />
            {(offset > 0 || older) && (
              <div className="run-pager" data-testid="run-pager">
                <button onClick={() => setOffset(Math.max(0, offset - PAGE))} disabled={offset === 0} data-testid="runs-newer">{t('newer_runs')}</button>
                <span className="muted small">{t('runs_shown', { from: offset + 1, to: offset + runs.length })}</span>
                <button onClick={() => setOffset(offset + PAGE)} disabled={!older} data-testid="runs-older">{t('older_runs')}</button>
              </div>
            )}
          </section>
          <section className="planning-main">{run && run.id === selected && (
            <RunDetail run={run} progress={brief?.progress ?? run.progress}
              canDelete={run.created_by === `user:${me.username}` || roles.includes('admin')}
              onDeleted={() => { setSelected(null); setRun(null); void refresh(); }} onError={setError} />
          )}</section>
        </main>
      )}
    </div>
  );
}

function StartForm({ onStarted }: { onStarted: (run: RunOut) => void }) {
  const { t } = useI18n();
  const [scenario, setScenario] = useState<File | null>(null);
  const [variant, setVariant] = useState<File | null>(null);
  const [replications, setReplications] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  const read = async (file: File) => {
    try {
      return readScenario(await file.text());
    } catch (err) {
      throw new Error(t('bad_scenario_file', { name: file.name, msg: (err as Error).message }));
    }
  };
  const submit = async (ev: FormEvent) => {
    ev.preventDefault();
    setError(null);
    if (!scenario) return setError(t('choose_scenario'));
    setSending(true);
    try {
      const base = await read(scenario);
      const other = variant ? await read(variant) : null;
      onStarted(await startRun(base, other, replications ? Number(replications) : null));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSending(false);
    }
  };
  return (
    <form className="panel start-run" onSubmit={submit} data-testid="start-run">
      <h2>{t('start_run')}</h2>
      <label>
        {t('scenario_file')}
        <input type="file" name="scenario" accept=".yaml,.yml,.json" onChange={(e) => setScenario(e.target.files?.[0] ?? null)} />
      </label>
      <label>
        {t('variant_file')}
        <input type="file" name="variant" accept=".yaml,.yml,.json" onChange={(e) => setVariant(e.target.files?.[0] ?? null)} />
      </label>
      <label>
        {t('replications')} <span className="muted small">({t('replications_hint')})</span>
        <input type="number" name="replications" min={1} max={50} value={replications} onChange={(e) => setReplications(e.target.value)} />
      </label>
      {error && <div className="error" role="alert" data-testid="start-error">{error}</div>}
      <button type="submit" className="primary" disabled={sending}>{t('start')}</button>
    </form>
  );
}

function RunList({ runs, selected, onSelect }: { runs: RunBrief[]; selected: string | null; onSelect: (id: string) => void }) {
  const { t } = useI18n();
  if (!runs.length) return <p className="muted">{t('no_runs')}</p>;
  return (
    <ul className="run-list" data-testid="runs">
      {runs.map((r) => (
        <li key={r.id} className={r.id === selected ? 'sel' : ''} onClick={() => onSelect(r.id)} data-testid="run-row" data-status={r.status}>
          <span className={`run-status ${r.status}`}>{t(`status_${r.status}`)}{r.status === 'running' && r.progress != null && ` ${percent(r.progress)}`}</span>
          <span>
            <b>{r.variant ? `${r.variant} / ${r.scenario}` : r.scenario}</b>
            <span className="muted small"> · {t(`kind_${r.kind}`)} · {r.replications} · {when(r.created_at)}</span>
          </span>
        </li>
      ))}
    </ul>
  );
}

function RunDetail({ run, progress, canDelete, onDeleted, onError }: {
  run: RunOut; progress: number | null | undefined; canDelete: boolean; onDeleted: () => void; onError: (msg: string) => void;
}) {
  const { t } = useI18n();
  const active = unfinished(run.status);
  const remove = () => {
    if (!window.confirm(t(active ? 'stop_delete_confirm' : 'delete_confirm', { name: run.scenario }))) return;
    deleteRun(run.id).then(onDeleted).catch((err: Error) => onError(err.message));
  };
  const result = run.result as Record<string, unknown> | null | undefined;
  const files = run.files ?? [];
  return (
    <div className="run-detail" data-testid="run-detail" data-status={run.status}>
      <h2>{run.variant ? `${run.variant} / ${run.scenario}` : run.scenario}</h2>
      <p className="muted small">
        {t(`kind_${run.kind}`)} · {t(`status_${run.status}`)} · {t('by')} {run.created_by.replace(/^user:/, '')} · {t('created')} {when(run.created_at)}
        {run.finished_at && ` · ${t('finished')} ${when(run.finished_at)}`}
        {canDelete && <button className="danger run-delete" onClick={remove} data-testid="run-delete">{t(active ? 'stop_delete' : 'delete_run')}</button>}
      </p>
      {run.status === 'failed' && <div className="error" role="alert" data-testid="run-error">{run.error}</div>}
      {run.status === 'running' && progress != null && (
        <p className="run-progress">
          <progress value={progress} max={1} data-testid="run-progress" />{' '}
          {/* After the last replication, the report and the calls are written before the run is done. */}
          {progress < 1 ? t('replications_done', { share: percent(progress) }) : t('writing_results')}
        </p>
      )}
      {active && <p className="muted">{t('run_waiting')}</p>}
      {files.length > 0 && (
        <p className="run-files">
          {files.includes('report.html') && <a href={fileUrl(run.id, 'report.html')} target="_blank" rel="noreferrer" data-testid="run-report">{t('report')}</a>}
          {files.includes('calls.csv') && <a href={fileUrl(run.id, 'calls.csv')} download data-testid="run-calls">{t('calls_csv')}</a>}
        </p>
      )}
      {run.status === 'done' && result && run.kind === 'simulation' && <KeyFigures summary={result.summary as Summary} n={run.replications} />}
      {run.status === 'done' && result && run.kind === 'comparison' && <Comparison run={run} result={result} />}
    </div>
  );
}

function KeyFigures({ summary, n }: { summary: Summary; n: number }) {
  const { t } = useI18n();
  const minutes = targets(summary);
  const arrests = summary['arrest.arrests']?.mean ?? 0;
  // With volunteers the simulation times each arrest three ways; without, once ('' = as simulated).
  const variants = ARREST_VARIANTS.filter((v) => `arrest.${v}.larsen_1993` in summary);
  const shown = variants.length ? variants : [''];
  const responders = RESPONDER_ROWS.filter((key) => `arrest.${key}` in summary);
  return (
    <div data-testid="key-figures">
      <h3>{t('key_figures', { n })}</h3>
      <table className="figures">
        <thead>
          <tr>
            <th>{t('group')}</th><th>{t('response_mean')}</th><th>{t('response_p90')}</th>
            {minutes.map((m) => <th key={m}>{t('within_min', { m })}</th>)}
          </tr>
        </thead>
        <tbody>
          {groups(summary).map((g) => (
            <tr key={g} data-testid={`figures-${g}`}>
              <th>{groupName(g, t)}</th>
              <td>{minutesCell(summary[`${g}.mean_response_min`])}</td>
              <td>{minutesCell(summary[`${g}.p90_response_min`])}</td>
              {minutes.map((m) => <td key={m}>{share(within(summary, g, m))}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
      <h3>{t('operation')}</h3>
      <table className="figures">
        <tbody>
          <tr><th>{t('calls')}</th><td>{count(summary.calls)}</td></tr>
          <tr><th>{t('queued_share')}</th><td>{share(summary.queued_share)}</td></tr>
          <tr><th>{t('utilisation')}</th><td>{share(summary.mean_utilisation)}</td></tr>
        </tbody>
      </table>
      {arrests > 0 && (
        <>
          <h3>{t('arrests')}: {count(summary['arrest.arrests'])} · {t('collapse_to_ems')} {minutesCell(summary['arrest.median_collapse_to_ems_min'])}</h3>
          <table className="figures" data-testid="arrest-figures">
            <thead>
              <tr><th />{shown.map((v) => <th key={v}>{v ? t(`arrest_${v}` as Key) : t('as_simulated')}</th>)}</tr>
            </thead>
            <tbody>
              {ARREST_ROWS.map(([key, label, kind]) => (
                <tr key={key}>
                  <th>{label(t)}</th>
                  {shown.map((v) => {
                    const f = summary[v ? `arrest.${v}.${key}` : `arrest.${key}`];
                    return <td key={v}>{kind === 'minutes' ? minutesCell(f) : count(f, 2)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
          {responders.length > 0 && (
            <>
              <h3>{t('planning_responders')}</h3>
              <table className="figures" data-testid="responder-figures">
                <tbody>
                  {responders.map((key) => (
                    <tr key={key} data-testid={`responders-${key}`}><th>{t(key)}</th><td>{count(summary[`arrest.${key}`], 1)}</td></tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </div>
  );
}

function Comparison({ run, result }: { run: RunOut; result: Record<string, unknown> }) {
  const { t } = useI18n();
  const base = result.base_summary as Summary;
  const variant = result.variant_summary as Summary;
  const diff = result.difference as Summary;
  // Larger than the noise first; within each, in the order of the key-figure tables.
  const order = groups(diff);
  const rank = (k: string) => [Number(!diff[k].significant), ...figureRank(k, order)];
  const keys = Object.keys(diff).sort((a, b) => compareRanks(rank(a), rank(b)) || a.localeCompare(b));
  return (
    <div data-testid="comparison">
      <h3>{t('difference', { variant: String(result.variant), base: String(result.base), n: run.replications })}</h3>
      {result.seed_replaced != null && <p className="muted small">{t('seed_replaced', { seed: String(result.seed_replaced) })}</p>}
      <table className="figures">
        <thead>
          <tr><th>{t('figure')}</th><th>{String(result.base)}</th><th>{String(result.variant)}</th><th>{t('change')}</th><th /></tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k} className={diff[k].significant ? 'significant' : ''} data-testid={`diff-${k}`} data-significant={String(!!diff[k].significant)}>
              <th title={k}>{figureName(k, t)}</th>
              <td>{value(k, base[k]?.mean)}</td>
              <td>{value(k, variant[k]?.mean)}</td>
              <td>{value(k, diff[k].mean, true)} ({value(k, diff[k].low, true)} – {value(k, diff[k].high, true)})</td>
              <td className="small">{diff[k].significant ? t('larger_than_noise') : t('noise')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const ARREST_VARIANTS = ['ems', 'volunteers', 'volunteers_aed'] as const;
// Rows of the arrest table: the summary key, its label and how it is shown (the survival models of DOMAIN.md §5).
const ARREST_ROWS: [string, (t: T) => string, 'minutes' | 'survivors'][] = [
  ['median_collapse_to_cpr_min', (t) => t('collapse_to_cpr'), 'minutes'],
  ['median_collapse_to_shock_min', (t) => t('collapse_to_shock'), 'minutes'],
  ['larsen_1993', (t) => t('survivors', { model: 'Larsen 1993' }), 'survivors'],
  ['de_maio_2003', (t) => t('survivors', { model: 'De Maio 2003' }), 'survivors'],
  ['valenzuela_1997', (t) => t('survivors', { model: 'Valenzuela 1997' }), 'survivors'],
];
// What the first responders did, per replication, in the run with volunteers and public AEDs (only with volunteers):
// the summary key after `arrest.`, which is also its label's key.
const RESPONDER_ROWS: Key[] = ['volunteer_alerts', 'volunteer_acceptances', 'volunteer_arrivals',
  'volunteer_busy_unanswered', 'volunteer_arrests_off_network', 'aeds_off_network'];

function groupName(group: string, t: T): string {
  if (group === 'all') return t('group_all');
  if (group.startsWith('area:')) return t('group_area', { a: group.slice(5) });
  return t('group_priority', { p: group.slice(1) });
}

// The operation figures of a summary: key, label.
const OPERATION: Record<string, Key> = {
  calls: 'calls', served: 'served', queued_share: 'queued_share', mean_utilisation: 'utilisation',
  mean_call_to_notified_s: 'call_to_notified', redispatches: 'redispatches', redispatched_share: 'redispatched_share',
};
const RESPONSE: Record<string, Key> = { mean: 'response_mean', p50: 'response_median', p90: 'response_p90' };

// Summary keys of the arrest figures ("arrest.volunteers.larsen_1993") and of the response times ("p1.within_8_min").
const ARREST_KEY = /^arrest\.(?:(ems|volunteers|volunteers_aed)\.)?(\w+)$/;
const RESPONSE_KEY = /^(all|p\d+|area:.+)\.(?:(mean|p50|p90)_response_min|within_(\d+(?:\.\d+)?)_min)$/;

/** A summary key in words ("p1.within_8_min": "Priority 1 · Within 8 min"); the key itself when it is not known. */
function figureName(key: string, t: T): string {
  if (key in OPERATION) return t(OPERATION[key]);
  const arrest = ARREST_KEY.exec(key);
  if (arrest) {
    const [, variant, figure] = arrest;
    const row = ARREST_ROWS.find(([k]) => k === figure);
    const responders = RESPONDER_ROWS.find((k) => k === figure);
    const name = row ? row[1](t) : responders ? t(responders) : figure === 'arrests' ? t('arrests')
      : figure === 'median_collapse_to_ems_min' ? t('collapse_to_ems') : null;
    if (name === null) return key;
    return variant ? `${name} · ${t(`arrest_${variant}` as Key)}` : name;
  }
  const response = RESPONSE_KEY.exec(key);
  if (!response) return key;
  const [, group, stat, minutes] = response;
  return `${groupName(group, t)} · ${stat ? t(RESPONSE[stat]) : t('within_min', { m: minutes })}`;
}

/** Where a figure stands in the key-figure tables: response times (by group in `groups` order: mean, median, 90th
 * percentile, then the shares by target), the operation, the arrests (EMS alone, with volunteers, with AEDs); keys
 * not known last. */
function figureRank(key: string, groups: string[]): number[] {
  const response = RESPONSE_KEY.exec(key);
  if (response) {
    const [, group, stat, minutes] = response;
    return [0, groups.indexOf(group), stat ? Object.keys(RESPONSE).indexOf(stat) : 3 + Number(minutes)];
  }
  if (key in OPERATION) return [1, Object.keys(OPERATION).indexOf(key)];
  const arrest = ARREST_KEY.exec(key);
  if (arrest) {
    const [, variant, figure] = arrest;
    const row = ['arrests', 'median_collapse_to_ems_min', ...ARREST_ROWS.map(([k]) => k), ...RESPONDER_ROWS].indexOf(figure);
    return [2, variant ? 1 + ARREST_VARIANTS.indexOf(variant as (typeof ARREST_VARIANTS)[number]) : 0, row < 0 ? Infinity : row];
  }
  return [3];
}

const compareRanks = (a: number[], b: number[]): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};

/** A figure's value as its kind reads (a share in %, minutes, seconds); a change of a share in percentage points. */
function value(key: string, x: number | null | undefined, change = false): string {
  if (!finite(x)) return '–';
  const sign = change && x > 0 ? '+' : '';
  if (/(_share|within_[\d.]+_min|utilisation)$/.test(key)) return `${sign}${(100 * x).toFixed(1)}${change ? ' pp' : '%'}`;
  if (key.endsWith('_min')) return `${sign}${x.toFixed(1)} min`;
  if (key.endsWith('_s')) return `${sign}${x.toFixed(0)} s`;
  return `${sign}${num(x)}`;
}

const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** mean (low–high) with the unit after the mean, the interval cut to what the figure can be (as the HTML report). */
function interval(f: Figure | undefined, fmt: (x: number) => string, unit: string, lo: number, hi: number): string {
  if (!f || !finite(f.mean)) return '–';
  const mean = `${fmt(clip(f.mean, lo, hi))}${unit}`;
  if (!finite(f.low) || !finite(f.high) || (f.n ?? 1) < 2) return mean;
  return `${mean} (${fmt(clip(f.low, lo, hi))}–${fmt(clip(f.high, lo, hi))})`;
}
const share = (f: Figure | undefined) => interval(f, (x) => (100 * x).toFixed(1), '%', 0, 1);
const minutesCell = (f: Figure | undefined) => interval(f, (x) => x.toFixed(1), ' min', 0, Infinity);
const count = (f: Figure | undefined, digits = 0) => interval(f, (x) => x.toFixed(digits), '', 0, Infinity);
const num = (x: number | null | undefined) => (finite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3)) : '–');
const when = (iso: string) => new Date(iso).toLocaleString();
const percent = (x: number) => `${Math.floor(100 * x)}%`;
/** Queued or running: the list is polled and the results are still to come. */
const unfinished = (status: RunBrief['status']) => status === 'queued' || status === 'running';
