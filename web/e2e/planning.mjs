// The planning page: an analyst starts a simulation with volunteers from a scenario file, reads its key figures (the
// arrests with and without volunteers and AEDs, what the first responders did), fetches its report and every call,
// then compares a variant (+1 ambulance) on the same calls (and opens that report), follows a longer run's progress
// and stops it, pages through more runs than a page holds; bad files and bad scenarios are refused
// with what was wrong, and a dispatcher is turned away.
import { parse } from 'yaml';
import { BASE, check, context, log, login, run, shot } from './lib.mjs';

const T = 20000;
const RUN_T = 120000;

// A small scenario (as `lifechain plan run` reads it): two days of central Helsinki, straight-line travel.
const scenario = (extra = '', { name = 'e2e-toy', rate = 60, units = 3, days = 2 } = {}) => `name: ${name}
seed: 3
days: ${days}
stations:
- {id: 1, lat: 60.17, lon: 24.94}
- {id: 2, lat: 60.19, lon: 24.96}
units:
${Array.from({ length: units }, (_, k) => `- {id: ${k + 1}, station: ${(k % 2) + 1}}`).join('\n')}
hospitals:
- {id: 1, lat: 60.18, lon: 24.92, capabilities: [ed, pci_24_7]}
demand:
- {lat: 60.16, lon: 24.93, weight: 3, area: south}
- {lat: 60.20, lon: 24.97, area: north}
calls: {rate_per_day: ${rate}, priorities: {1: 0.3, 2: 0.7}, arrest_share: 0.05}
${extra}`;

const file = (name, text) => ({ name, mimeType: 'text/yaml', buffer: Buffer.from(text) });

async function start(page, scenarioFile, variantFile, replications) {
  const form = page.getByTestId('start-run');
  await form.locator('input[name=scenario]').setInputFiles(scenarioFile ?? []);
  await form.locator('input[name=variant]').setInputFiles(variantFile ?? []);
  await form.locator('input[name=replications]').fill(replications ? String(replications) : '');
  await form.locator('button[type=submit]').click();
}

async function startError(page) {
  await page.getByTestId('start-error').waitFor({ timeout: T });
  return page.getByTestId('start-error').textContent();
}

await run('planning', async (browser) => {
  const ctx = await context(browser, { locale: 'en-US', name: 'analyst' });
  const page = await ctx.newPage();
  await login(page, '/planning', 'analyst', 'start-run');

  // Refusals, before anything is stored.
  await start(page, null, null, null);
  check((await startError(page)).includes('Choose a scenario file first'), 'no file: asked for one');
  await start(page, file('broken.yaml', 'name: x\nseed: ['), null, null);
  check((await startError(page)).includes('broken.yaml: not a scenario'), 'a file that is not YAML is refused by name');
  await start(page, file('bad-seed.yaml', scenario().replace('seed: 3', 'seed: three')), null, null);
  const seedError = await startError(page);
  check(seedError.includes('scenario.seed') && seedError.includes('valid integer'), `a bad seed is named: ${seedError}`);
  await start(page, file('toy.yaml', scenario()), file('toy.yaml', scenario()), 1);
  check((await startError(page)).includes('a comparison needs at least 2'), 'a comparison of one replication is refused');
  check((await page.getByTestId('run-row').count()) === 0, 'no run was stored by the refused requests');
  log('bad files and scenarios refused with what was wrong');

  // A simulation: key figures with intervals, the report and every call.
  // With volunteers, so that the arrests are timed with and without them and the first responders' figures show.
  await start(page, file('toy.yaml', scenario('volunteers: {density_per_km2: 30}')), null, 2);
  await page.locator('[data-testid=run-detail][data-status=done]').waitFor({ timeout: RUN_T });
  const all = await page.getByTestId('figures-all').textContent();
  check(/\d+\.\d min/.test(all) && /\d+\.\d%/.test(all), `the all-calls row has minutes and shares: ${all}`);
  const arrestHead = await page.locator('[data-testid=arrest-figures] thead').textContent();
  check(arrestHead.includes('+ volunteers and public AEDs'), `arrests timed with volunteers and AEDs: ${arrestHead}`);
  const alerts = await page.getByTestId('responders-volunteer_alerts').textContent();
  const arrived = await page.getByTestId('responders-volunteer_arrivals').textContent();
  check(alerts.startsWith('Volunteer alerts sent') && parseFloat(alerts.slice(21)) > 0 && arrived.startsWith('Volunteers who reached'),
    `what the first responders did: ${alerts} / ${arrived}`);
  check(await page.getByTestId('figures-p1').isVisible(), 'a row for priority 1');
  check(await page.getByTestId('figures-area:north').isVisible(), 'a row for the north area');
  await shot(page, 'planning-run-1366.png');
  const report = await ctx.request.get(new URL(await page.getByTestId('run-report').getAttribute('href'), BASE).href);
  check(report.ok() && (await report.text()).includes('Planning report: e2e-toy'), `the report opens (${report.status()})`);
  // Opened from its link, in a tab of its own: the plots draw under the report's content security policy.
  const [tab] = await Promise.all([ctx.waitForEvent('page'), page.getByTestId('run-report').click()]);
  await tab.getByText('Key figures').first().waitFor({ timeout: T });
  const widths = await tab.evaluate(() => [...document.images].map((img) => img.naturalWidth));
  check(widths.length >= 2 && widths.every((w) => w > 0), `the report's plots are drawn (${widths.join(', ')} px wide)`);
  await tab.close();
  const calls = await ctx.request.get(new URL(await page.getByTestId('run-calls').getAttribute('href'), BASE).href);
  const lines = (await calls.text()).trim().split('\n');
  check(calls.ok() && lines[0].includes('psap_call') && lines.length > 50, `every call as CSV (${lines.length - 1} rows)`);
  log(`simulation done: report and ${lines.length - 1} calls fetched`);

  // A comparison: +1 ambulance on a busy system, the same calls (and volunteers) in both.
  const busy = { rate: 150 };
  const volunteers = 'volunteers: {density_per_km2: 30}';
  await start(page, file('busy.yaml', scenario(volunteers, busy)), file('busy+1.yaml', scenario(volunteers, { ...busy, name: 'e2e-toy+1', units: 4 })), 3);
  await page.locator('[data-testid=run-detail][data-status=done] [data-testid=comparison]').waitFor({ timeout: RUN_T });
  // Every figure in words: none shown as its summary key (as the first responders' counts were).
  const names = await page.locator('[data-testid=comparison] tbody th').allTextContents();
  const raw = names.filter((name) => /^[\w:]+(\.\w+)+$/.test(name));
  check(names.includes('Volunteer alerts sent') && raw.length === 0, `every compared figure in words (raw: ${raw.join(', ')})`);
  check((await page.getByTestId('diff-calls').getAttribute('data-significant')) === 'false', 'the same calls: no change in calls');
  check((await page.getByTestId('diff-queued_share').getAttribute('data-significant')) === 'true', 'queueing drops beyond the noise');
  const words = [await page.locator('[data-testid=diff-queued_share] th').textContent(),
    await page.locator('[data-testid="diff-p1.within_8_min"] th').textContent()];
  check(words[0] === 'Waited for a free unit' && words[1] === 'Priority 1 · Within 8 min', `figures named in words: ${words.join(' / ')}`);
  const change = await page.locator('[data-testid=diff-queued_share] td').nth(2).textContent();
  check(/^-\d+\.\d pp \(/.test(change), `a change of a share in percentage points: ${change}`);
  // Larger than the noise first, then within the noise; each in the tables' order: all calls, priority 1, 2, the
  // areas, the operation, the arrests.
  const rows = await page.locator('[data-testid=comparison] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.dataset.testid.slice(5), tr.dataset.significant === 'true']));
  const section = (key) => (key.startsWith('all.') ? 0 : key.startsWith('p1.') ? 1 : key.startsWith('p2.') ? 2
    : key.startsWith('area:') ? 3 : key.startsWith('arrest.') ? 5 : 4);
  const sorted = rows.every(([k, sig], i) => i === 0 || (rows[i - 1][1] === sig ? section(rows[i - 1][0]) <= section(k) : rows[i - 1][1]));
  check(sorted && rows.length > 20, `the comparison reads in the tables' order: ${rows.map(([k, sig]) => `${k}${sig ? '*' : ''}`).join(', ')}`);
  check(rows.findIndex(([k]) => k === 'all.mean_response_min') < rows.findIndex(([k]) => k === 'all.within_8_min')
    || rows.find(([k]) => k === 'all.mean_response_min')[1] !== rows.find(([k]) => k === 'all.within_8_min')[1],
  'the mean response before the share within 8 minutes');
  // Its report: the changes with their verdicts, both scenarios' curves; no calls file for a comparison.
  const compared = await ctx.request.get(new URL(await page.getByTestId('run-report').getAttribute('href'), BASE).href);
  const comparedText = await compared.text();
  check(compared.ok() && comparedText.includes('Comparison: e2e-toy+1 against e2e-toy') && comparedText.includes('larger than the noise'),
    `the comparison's report opens (${compared.status()})`);
  check((await page.getByTestId('run-calls').count()) === 0, 'a comparison offers no calls file');
  check((await page.getByTestId('run-row').count()) === 2, 'two runs listed');
  await shot(page, 'planning-compare-1366.png');
  log('comparison done: queueing change larger than the noise');

  // A longer run shows how far it has got, replication by replication; its analyst stops and deletes it.
  await start(page, file('long.yaml', scenario('', { name: 'e2e-long', rate: 300, days: 10 })), null, 20);
  // Read in one go: the bar is gone once the run is done.
  const seen = await page.waitForFunction(() => {
    const bar = document.querySelector('[data-testid=run-progress]');
    const value = Number(bar?.getAttribute('value'));
    return value > 0 ? { value, text: bar.parentElement.textContent } : null;
  }, null, { timeout: RUN_T });
  const { value: progress, text } = await seen.jsonValue();
  check(progress > 0 && progress < 1, `a running run shows its progress (${progress})`);
  check(/\d+% of the replications done/.test(text), `the progress in words: ${text}`);
  await shot(page, 'planning-progress-1366.png');
  // Stopped and deleted from the page, after a confirmation.
  check((await page.getByTestId('run-delete').textContent()) === 'Stop and delete', 'a running run offers to stop');
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByTestId('run-delete').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 2, null, { timeout: T });
  check((await page.getByTestId('run-detail').count()) === 0, 'the deleted run is no longer shown');
  const gone = await ctx.request.get(`${BASE}/api/v1/planning/runs?status=running`);
  check(gone.ok() && (await gone.json()).length === 0, 'nothing is running any more');
  log(`a long run showed its progress (${Math.round(100 * progress)}%) and was stopped and deleted`);

  // More runs than a page holds: the list pages back to the older ones. Started over the API, as by another analyst:
  // a long run (it runs first), then 50 tiny ones queued behind it; at the end all are deleted over the API (those
  // still queued never run).
  const post = async (scenarioObject, replications) => {
    const res = await ctx.request.post(`${BASE}/api/v1/planning/runs`, { data: { scenario: scenarioObject, replications } });
    check(res.status() === 202, `run of ${scenarioObject.name} accepted (${res.status()}: ${res.ok() ? '' : await res.text()})`);
    return (await res.json()).id;
  };
  const started = [await post(parse(scenario('', { name: 'e2e-long-api', rate: 300, days: 10 }), { version: '1.1' }), 50)];
  const tiny = { name: 'e2e-tiny', seed: 1, days: 1, stations: [{ id: 1, lat: 60.17, lon: 24.94 }], units: [{ id: 1, station: 1 }],
    hospitals: [{ id: 1, lat: 60.18, lon: 24.92 }], demand: [{ lat: 60.16, lon: 24.93 }], calls: { rate_per_day: 5 } };
  for (let k = 0; k < 50; k++) started.push(await post(tiny, 1));
  // Started elsewhere: the idle page reads its list again every 10 s.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 50, null, { timeout: T });
  check(await page.getByTestId('runs-older').isEnabled() && !(await page.getByTestId('runs-newer').isEnabled()),
    'a full first page offers the older runs only');
  check((await page.getByTestId('run-pager').textContent()).includes('runs 1–50'), 'the pager says which runs are shown');
  await page.getByTestId('runs-older').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 3, null, { timeout: T });
  const oldest = await page.getByTestId('run-row').allTextContents();
  check(oldest[0].includes('e2e-long-api') && oldest[1].includes('e2e-toy+1 / e2e-toy') && oldest[2].includes('e2e-toy'),
    `the second page holds the three oldest runs: ${oldest.join(' | ')}`);
  check(!(await page.getByTestId('runs-older').isEnabled()), 'nothing older than the second page');
  check((await page.getByTestId('run-pager').textContent()).includes('runs 51–53'), 'the pager says runs 51–53');
  // The long run, selected here, is followed in its panel after the page is turned away from it.
  await page.getByTestId('run-row').first().click();
  await page.getByTestId('run-progress').waitFor({ timeout: RUN_T });
  await shot(page, 'planning-pages-1366.png');
  await page.getByTestId('runs-newer').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 50, null, { timeout: T });
  await page.waitForTimeout(3000); // past the one fetch a change of the run's listing makes
  const before = Number(await page.getByTestId('run-progress').getAttribute('value'));
  const later = await page.waitForFunction((p) => {
    const value = Number(document.querySelector('[data-testid=run-progress]')?.getAttribute('value'));
    return value > p ? value : null;
  }, before, { timeout: T });
  const after = await later.jsonValue();
  check(after > before && !(await page.locator('[data-testid=run-row].sel').count()), `an unlisted selected run's progress goes on (${before} -> ${after})`);
  for (const id of started) {
    const res = await ctx.request.delete(`${BASE}/api/v1/planning/runs/${id}`);
    check(res.ok(), `run deleted over the API (${res.status()})`);
  }
  // The long run, deleted elsewhere while followed off its page, leaves the panel.
  await page.getByTestId('run-detail').waitFor({ state: 'detached', timeout: T });
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=run-row]').length === 2, null, { timeout: T });
  check((await page.getByTestId('run-pager').count()) === 0, 'with one page of runs left, no pager');
  log(`53 runs paged: 50 newest, then the 3 oldest; the long one followed off its page (${before} -> ${after}); 51 deleted over the API`);
  await page.getByTestId('run-row').first().click(); // the comparison again, for its picture in Chinese
  await page.locator('[data-testid=run-detail][data-status=done] [data-testid=comparison]').waitFor({ timeout: T });

  await page.getByTestId('lang-switch').click();
  await page.getByText('规划').first().waitFor({ timeout: T });
  await shot(page, 'planning-compare-zh-1366.png');
  // Shown here and deleted elsewhere, a finished run leaves the panel once the list no longer has it.
  const shownId = await page.evaluate(async () => (await (await fetch('/api/v1/planning/runs?status=done&limit=1')).json())[0].id);
  check((await ctx.request.delete(`${BASE}/api/v1/planning/runs/${shownId}`)).ok(), 'the shown comparison deleted over the API');
  await page.getByTestId('run-detail').waitFor({ state: 'detached', timeout: T });
  check((await page.getByTestId('run-row').count()) === 1, 'one run left in the list');
  log('a shown run deleted elsewhere leaves the panel');
  await ctx.close();

  const other = await context(browser, { locale: 'en-US', name: 'dispatcher' });
  const page2 = await other.newPage();
  await login(page2, '/planning', 'dispatcher', 'planning-refused');
  log('a dispatcher is told planning is for analysts');
  await other.close();
});
