// The staff's screens show what the server works around (`/health`'s problems): the city's alert policy file is
// broken while the server runs, the dispatcher sees it on the console (planning too; not the crew app, whose crews
// alert no volunteer, nor the volunteers' app), in the screen's language, and it is gone once the file is fixed.
// POLICY_FILE: the demo city's alert policy file on the server (the test puts back what was there).
import { unlinkSync, writeFileSync } from 'node:fs';
import { BASE, check, context, log, login, run, shot } from './lib.mjs';

const POLICY_FILE = process.env.POLICY_FILE;
const T = 20000;

await run('problems', async (browser) => {
  check(!!POLICY_FILE, 'POLICY_FILE names the demo city\'s alert policy file');
  const ctx = await context(browser, { locale: 'en-US', name: 'console' });
  const page = await ctx.newPage();
  await login(page, '/console', 'dispatcher', 'console');
  check(await page.getByTestId('server-problems').count() === 0, 'no problem shown while the server has none');
  writeFileSync(POLICY_FILE, 'first_phase_size: [2\n'); // an unfinished edit
  await page.reload();
  const banner = page.getByTestId('server-problems');
  await banner.waitFor({ timeout: T });
  const text = await banner.textContent();
  check(text.includes('alert policy file of city helsinki is broken') && text.includes('last good policy'),
    `the console names the broken policy and what alerts do meanwhile (${text})`);
  check(!text.includes(POLICY_FILE), 'the public problem does not give the file\'s path');
  await shot(page, 'console-problems-1366.png');
  log('console shows the broken alert policy');
  await page.getByTestId('lang-switch').click(); // the dispatchers of a Chinese centre read it in Chinese
  await page.waitForFunction(() => document.querySelector('[data-testid=server-problems]')?.textContent
    .includes('城市 helsinki 的志愿者呼叫策略文件有误'), null, { timeout: T });
  const zh = await banner.textContent();
  check(zh.includes('服务器正在绕过以下问题') && zh.includes('呼叫沿用上一个有效的策略') && !zh.includes('alert policy'),
    `in Chinese the banner says it in Chinese (${zh})`);
  await shot(page, 'console-problems-zh-1366.png');
  await page.getByTestId('lang-switch').click();
  log('the problem is shown in the screen\'s language');
  // Planning shows it too; the crew app (crews alert no volunteer) and the volunteers' app (the public) do not.
  const analyst = await context(browser, { locale: 'en-US', name: 'analyst' });
  const plan = await analyst.newPage();
  await login(plan, '/planning', 'analyst', 'start-run');
  const shown = plan.getByTestId('server-problems');
  await shown.waitFor({ timeout: T });
  check((await shown.textContent()).includes('alert policy file of city helsinki is broken'),
    'planning shows the server\'s problem too');
  await shot(plan, 'planning-problems-1366.png');
  await analyst.close();
  const crew = await context(browser, { locale: 'en-US', name: 'crew' });
  const crewPage = await crew.newPage();
  const crewHealth = crewPage.waitForResponse((r) => r.url() === `${BASE}/api/v1/health` && r.ok(), { timeout: T });
  await login(crewPage, '/crew', 'crew', 'crew-app');
  const answer = await (await crewHealth).json();
  check(answer.problems.some((p) => p.code === 'alert_policy_kept'), 'the crew app was told of the problem');
  await crewPage.waitForTimeout(500); // let React render the answer
  check(await crewPage.getByTestId('server-problems').count() === 0, 'the crew app does not show it');
  await crew.close();
  const public_ = await context(browser, { locale: 'en-US', name: 'volunteer' });
  await public_.grantPermissions(['geolocation']);
  await public_.setGeolocation({ latitude: 60.1699, longitude: 24.9384 });
  const vol = await public_.newPage();
  await login(vol, '/volunteer', 'volunteer', 'volunteer-app');
  await vol.waitForTimeout(500);
  check(await vol.getByTestId('server-problems').count() === 0, 'the volunteers\' app does not show it');
  await public_.close();
  log('planning shows it, the crew app and the volunteers\' app do not');
  unlinkSync(POLICY_FILE);
  const health = page.waitForResponse((r) => r.url() === `${BASE}/api/v1/health` && r.ok(), { timeout: T });
  await page.reload();
  await health;
  await page.getByTestId('console').waitFor({ timeout: T });
  await page.waitForTimeout(300); // let React render the answer
  check(await page.getByTestId('server-problems').count() === 0, 'the problem is gone once the file is fixed');
  log('problem gone once the file was removed');
  await ctx.close();
});
