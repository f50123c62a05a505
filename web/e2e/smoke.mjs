// The shell in both languages: home, language switch, sign-in form, the city map drawn from the server's roads.
import { check, context, DESKTOP, BASE, log, PHONE, run, shot, waitForRoads } from './lib.mjs';

await run('smoke', async (browser) => {
  for (const [locale, lang, title] of [['en-US', 'en', 'Dispatch console'], ['zh-CN', 'zh-CN', '调度台']]) {
    const ctx = await context(browser, { locale, name: `home-${lang}` });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/`);
    await page.getByTestId('open-console').waitFor();
    check((await page.getByTestId('open-console').textContent()) === title, `home in ${lang} shows "${title}"`);
    check((await page.evaluate(() => document.documentElement.lang)) === lang, `html lang is ${lang}`);
    await page.goto(`${BASE}/console`);
    await page.getByTestId('login-form').waitFor();
    await shot(page, `login-${lang}-1366.png`);
    await ctx.close();
  }
  // The switch flips the language and the choice survives a reload.
  const ctx = await context(browser, { locale: 'en-US', name: 'switch' });
  const page = await ctx.newPage();
  await page.goto(`${BASE}/`);
  await page.getByTestId('lang-switch').click();
  await page.getByText('调度台').waitFor();
  await page.reload();
  await page.getByText('调度台').waitFor();
  log('language switch kept after reload');
  // The map, like every geo route, is for signed-in users: the form comes first.
  await page.goto(`${BASE}/map`);
  await page.getByTestId('login-form').waitFor();
  await page.locator('input[name=username]').fill('analyst');
  await page.locator('input[name=password]').fill('lifechain-demo');
  await page.locator('form[data-testid=login-form] button[type=submit]').click();
  await waitForRoads(page);
  const roads = Number(await page.getByTestId('map').getAttribute('data-roads'));
  check(roads > 100, `the city map drew the road network (${roads} road segments)`);
  await shot(page, 'city-map-1366.png');
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300);
  await shot(page, 'city-map-390.png');
  await page.setViewportSize(DESKTOP);
  await ctx.close();
});
