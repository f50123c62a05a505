// The staff's screens show what the server works around (`/health`'s problems): the city's alert policy file is
// broken while the server runs, the dispatcher sees it on the console (planning and the crew app too, the
// volunteers' app not), in the screen's language, and it is gone once the file is fixed.
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
  // The other staff screens show it too; the volunteers' app (the public) does not.
  for (const [path, user, testid] of [['/planning', 'analyst', 'start-run'], ['/crew', 'crew', 'crew-app']]) {
    const other = await context(browser, { locale: 'en-US', name: user });
    const p = await other.newPage();
    await login(p, path, user, testid);
    const shown = p.getByTestId('server-problems');
    await shown.waitFor({ timeout: T });
    check((await shown.textContent()).includes('alert policy file of city helsinki is broken'),
      `${path} shows the server's problem too`);
    if (path === '/planning') await shot(p, 'planning-problems-1366.png');
    await other.close();
  }
  const public_ = await context(browser, { locale: 'en-US', name: 'volunteer' });
  await public_.grantPermissions(['geolocation']);
  await public_.setGeolocation({ latitude: 60.1699, longitude: 24.9384 });
  const vol = await public_.newPage();
  await login(vol, '/volunteer', 'volunteer', 'volunteer-app');
  await vol.waitForTimeout(500);
  check(await vol.getByTestId('server-problems').count() === 0, 'the volunteers\' app does not show it');
  await public_.close();
  log('planning and crew show it, the volunteers\' app does not');
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
