// The headline scenario in one language (E2E_LANG=en|zh-CN): a dispatcher takes an arrest call from intake to
// dispatch, volunteers are alerted, one accepts on a phone (second browser context), the crew moves the unit
// through its statuses on its phone (third context), and the console follows it all live over the stream.
import { BASE, check, context, log, login, PASSWORD, PHONE, run, shot, waitForRoads } from './lib.mjs';

const LANG = process.env.E2E_LANG === 'zh-CN' ? 'zh-CN' : 'en';
const LOCALE = LANG === 'zh-CN' ? 'zh-CN' : 'en-US';
const SCENE = LANG === 'en' ? { lat: 60.16885, lon: 24.93420 } : { lat: 60.16905, lon: 24.93520 };
const VOLUNTEER_AT = { latitude: SCENE.lat + 0.0003, longitude: SCENE.lon + 0.0003 }; // a walk of 80-90 s
const CALLER = LANG === 'en' ? '+358 40 123 4567' : '+358 40 765 4321';
const T = 20000;

/** Volunteer 1 (the demo volunteer user's record) exists and holds a valid CPR certificate. */
async function ensureVolunteer(browser) {
  const ctx = await browser.newContext();
  const res = await ctx.request.post(`${BASE}/api/v1/auth/login`, { data: { username: 'admin', password: PASSWORD } });
  check(res.ok(), `admin can sign in (${res.status()})`);
  const list = await (await ctx.request.get(`${BASE}/api/v1/volunteers?city=helsinki`)).json();
  if (!Array.isArray(list) || !list.some((v) => v.id === 1)) {
    const made = await ctx.request.post(`${BASE}/api/v1/volunteers`, {
      data: { city: 'helsinki', name: 'E2E Volunteer', channels: ['app'],
        qualifications: [{ kind: 'cpr', issued: '2025-01-01', expires: '2035-01-01' }] },
    });
    check(made.ok(), `registered the demo volunteer (${made.status()} ${await made.text()})`);
  }
  await ctx.close();
}

/** A keyboard shortcut on the console, with the focus on no input (as after a click on the map). */
async function shortcut(page, key) {
  await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
  await page.keyboard.press(key);
}

async function waitAttr(page, testid, attr, value, timeout = T) {
  try {
    await page.waitForFunction(([id, a, v]) => document.querySelector(`[data-testid="${id}"]`)?.getAttribute(a) === v,
      [testid, attr, value], { timeout });
  } catch (err) {
    const now = await page.locator(`[data-testid="${testid}"]`).first().getAttribute(attr).catch(() => 'absent');
    throw new Error(`waiting for ${testid} ${attr}=${value} (it is ${now}): ${err.message.split('\n')[0]}`);
  }
}

/** Wait until some responder in the console has `state`. */
async function responderState(page, state) {
  try {
    await page.waitForFunction((s) => [...document.querySelectorAll('[data-testid=responder]')].some((e) => e.getAttribute('data-state') === s), state, { timeout: T });
  } catch {
    const states = await page.locator('[data-testid=responder]').evaluateAll((es) => es.map((e) => e.getAttribute('data-state')));
    throw new Error(`waiting for a responder ${state} in the console (states: ${states.join(', ')})`);
  }
}

await run(`arrest-${LANG}`, async (browser) => {
  await ensureVolunteer(browser);

  // --- three people, three browser contexts
  const dctx = await context(browser, { locale: LOCALE, name: 'console' });
  const console_ = await dctx.newPage();
  await login(console_, '/console', 'dispatcher', 'console');
  await waitForRoads(console_);
  await console_.locator('[data-testid^="unit-"]').first().waitFor({ timeout: T });

  const cctx = await context(browser, { locale: LOCALE, viewport: PHONE, mobile: true, name: 'crew' });
  const crew = await cctx.newPage();
  await login(crew, '/crew', 'crew', 'crew-app');
  await crew.getByTestId('crew-status').waitFor({ timeout: T });
  const callsign = (await crew.locator('.topbar b').first().textContent()).trim();
  log(`crew unit ${callsign}`);
  // A unit left on a call by an earlier run is brought back to its station first.
  for (let i = 0; i < 8; i++) {
    const status = await crew.getByTestId('crew-status').getAttribute('data-status');
    if (status === 'available_at_station') break;
    await crew.locator('[data-testid^="to-"]:not([disabled])').last().click();
    await crew.waitForFunction((s) => document.querySelector('[data-testid=crew-status]')?.getAttribute('data-status') !== s, status, { timeout: T });
  }

  const vctx = await context(browser, { locale: LOCALE, viewport: PHONE, mobile: true, name: 'volunteer' });
  await vctx.grantPermissions(['geolocation']);
  await vctx.setGeolocation(VOLUNTEER_AT);
  const vol = await vctx.newPage();
  await login(vol, '/volunteer', 'volunteer', 'volunteer-app');
  await vol.getByTestId('duty-toggle').waitFor();
  await vol.waitForTimeout(500);
  if ((await vol.getByTestId('duty-toggle').getAttribute('data-on')) !== 'true') await vol.getByTestId('duty-toggle').click();
  await waitAttr(vol, 'duty-toggle', 'data-on', 'true');
  // The phone listens on its own live stream (no polling while it is up): the alert below arrives over it.
  await waitAttr(vol, 'stream-state', 'data-connected', 'true');
  await vol.waitForTimeout(1000); // position and heartbeat reach the server
  await shot(vol, `volunteer-on-duty-${LANG}-390.png`);

  // --- intake: a new call by keyboard, the place by coordinates
  await shortcut(console_, 'n');
  await console_.getByTestId('call-taking').waitFor();
  await console_.getByTestId('lat').fill(String(SCENE.lat));
  await console_.getByTestId('lon').fill(String(SCENE.lon));
  await console_.getByTestId('use-coords').click();
  await console_.getByTestId('pin').waitFor();
  await console_.getByTestId('callback').fill(CALLER);
  await console_.getByTestId('create-incident').click();

  // --- triage question by question: unresponsive, not breathing -> arrest, telephone CPR with a running timer
  await console_.getByTestId('answer-no').click();
  await waitAttr(console_, 'question', 'data-qid', 'breathing');
  await console_.getByTestId('answer-no').click();
  await console_.getByTestId('determinant').waitFor({ timeout: T });
  const code = await console_.getByTestId('determinant').getAttribute('data-code');
  check(/^E-1/.test(code ?? ''), `an arrest determinant (${code})`);
  await console_.getByTestId('tcpr').waitFor();
  const t1 = await console_.getByTestId('tcpr-timer').textContent();
  await console_.waitForTimeout(1300);
  const t2 = await console_.getByTestId('tcpr-timer').textContent();
  check(t1 !== t2, `the CPR timer runs (${t1} -> ${t2})`);
  await console_.getByTestId('first-compression').click();
  for (let i = 0; i < 8 && (await console_.getByTestId('question').count()); i++) {
    await console_.getByTestId('question').locator('button').first().click();
    await console_.waitForTimeout(300);
  }
  const incidentId = Number(await console_.getByTestId('incident-panel').getAttribute('data-incident'));
  log(`incident #${incidentId}, determinant ${code}`);

  // --- recommendation with reasons, one action to dispatch (D when the crew's unit is the recommended one)
  const cand = console_.getByTestId(`cand-${callsign}`);
  await cand.waitFor({ timeout: T });
  await shot(console_, `console-arrest-${LANG}-1366.png`);
  if (await cand.evaluate((el) => el.classList.contains('best'))) {
    await shortcut(console_, 'd');
  } else {
    await cand.locator('button').first().click();
  }
  await console_.getByTestId(`assigned-${callsign}`).waitFor({ timeout: T });
  await waitAttr(console_, `unit-${callsign}`, 'data-status', 'dispatched');
  log(`${callsign} dispatched`);

  // --- volunteers alerted (the arrest plan alerts them by itself, else the dispatcher's button); the console lists them
  try {
    await console_.getByTestId('responder').first().waitFor({ timeout: 4000 });
  } catch {
    await console_.getByTestId('alert-volunteers').click();
    await console_.getByTestId('responder').first().waitFor({ timeout: T });
  }
  const alerted = await console_.getByTestId('responder').count();
  log(`volunteers alerted: ${alerted}`);

  // --- the volunteer's phone rings: place and nature only, never the caller number or the determinant
  await vol.getByTestId('alert').waitFor({ timeout: T });
  const volText = await vol.locator('body').innerText();
  check(!volText.includes(CALLER) && !volText.includes(CALLER.replaceAll(' ', '')), 'the volunteer never sees the caller number');
  check(!volText.includes(code), 'the volunteer never sees the determinant');
  await waitForRoads(vol);
  await shot(vol, `volunteer-alert-${LANG}-390.png`);
  await vol.getByTestId('accept').click();
  await waitAttr(vol, 'alert', 'data-state', 'accepted');
  await responderState(console_, 'accepted');
  log('console shows the volunteer accepted (live)');
  // The console map draws the accepted volunteer (record 1) where they are, labelled with their role, and their
  // walking route (a line of the routes layer; the map element lists the lines it draws as id:points).
  try {
    await console_.waitForFunction(() => {
      const m = /(?:^| )route-r1:(\d+)/.exec(document.querySelector('[data-testid=map]')?.getAttribute('data-lines') ?? '');
      return !!m && Number(m[1]) >= 2;
    }, null, { timeout: T });
  } catch {
    const lines = await console_.getByTestId('map').getAttribute('data-lines');
    throw new Error(`waiting for the volunteer's route on the console map (lines: ${lines})`);
  }
  const marker = console_.getByTestId('map-responder-1');
  await marker.waitFor({ timeout: T });
  const markerText = (await marker.textContent()) ?? '';
  check(markerText.length > 0, `the volunteer's marker is labelled (${markerText})`);
  await shot(console_, `console-responder-route-${LANG}-1366.png`);
  log(`console map shows the volunteer's walking route (${markerText})`);
  await vol.getByTestId('act-arrived').click();
  await waitAttr(vol, 'alert', 'data-state', 'arrived');
  await vol.getByTestId('act-cpr_started').click();
  await vol.getByTestId('act-cpr_started').and(vol.locator('.done')).waitFor({ timeout: T });
  await shot(vol, `volunteer-on-scene-${LANG}-390.png`);
  await responderState(console_, 'arrived');

  // --- the crew taps its statuses in order; the console follows each one live
  await crew.getByTestId('assignment').waitFor({ timeout: T });
  await shot(crew, `crew-assignment-${LANG}-390.png`);
  for (const status of ['en_route', 'on_scene']) {
    await crew.getByTestId(`to-${status}`).click();
    await waitAttr(crew, 'crew-status', 'data-status', status);
    await waitAttr(console_, `unit-${callsign}`, 'data-status', status);
    log(`console shows ${callsign} ${status}`);
  }
  // EMS on scene stands the volunteers down.
  await vol.getByTestId('stood-down').waitFor({ timeout: T });
  await shot(vol, `volunteer-stood-down-${LANG}-390.png`);
  await crew.getByTestId('patient-contact').click();
  const hospital = await crew.locator('[data-testid=hospital] option:not([disabled])').nth(1).getAttribute('value');
  await crew.getByTestId('hospital').selectOption(hospital);
  await crew.getByTestId('ecg-file').setInputFiles({ name: 'ecg-12-lead.pdf', mimeType: 'application/pdf',
    buffer: Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n') });
  await crew.getByTestId('ecg-attached').waitFor({ timeout: T });
  await shot(crew, `crew-on-scene-${LANG}-390.png`);
  for (const status of ['transporting', 'at_hospital']) {
    await crew.getByTestId(`to-${status}`).click();
    await waitAttr(crew, 'crew-status', 'data-status', status);
    await waitAttr(console_, `unit-${callsign}`, 'data-status', status);
    log(`console shows ${callsign} ${status}`);
  }
  for (const kind of ['psap_call', 'unit_notified', 'unit_on_scene', 'prehospital_ecg', 'responder_accepted']) {
    await console_.locator(`[data-testid=timeline] li[data-kind="${kind}"]`).first().waitFor({ timeout: T });
  }
  log('timeline shows call, dispatch, on scene, ECG and the volunteer');

  // --- the stream drops: a visible warning, then catch-up on reconnect
  await dctx.setOffline(true);
  await console_.getByTestId('stream-down').waitFor({ timeout: T });
  await shot(console_, `console-disconnected-${LANG}-1366.png`);
  await crew.getByTestId('to-available_returning').click(); // happens while the console is offline
  await waitAttr(crew, 'crew-status', 'data-status', 'available_returning');
  await dctx.setOffline(false);
  await console_.getByTestId('stream-down').waitFor({ state: 'detached', timeout: T });
  await waitAttr(console_, `unit-${callsign}`, 'data-status', 'available_returning');
  log('stream reconnected and caught up');

  // --- help overlay of the keyboard shortcuts
  await shortcut(console_, '?');
  await console_.getByTestId('help').waitFor();
  await shot(console_, `console-help-${LANG}-1366.png`);
  await console_.keyboard.press('Escape');
  await console_.getByTestId('help').waitFor({ state: 'detached' });

  await crew.getByTestId('to-available_at_station').click();
  await waitAttr(crew, 'crew-status', 'data-status', 'available_at_station');
  await waitAttr(console_, `unit-${callsign}`, 'data-status', 'available_at_station');
  await shot(console_, `console-end-${LANG}-1366.png`);
  // No unit is on the call any more: the dispatcher closes it and it leaves the queue.
  await console_.getByTestId('close-incident').click();
  await console_.getByTestId(`queue-${incidentId}`).waitFor({ state: 'detached', timeout: T });
  await console_.setViewportSize(PHONE);
  await console_.waitForTimeout(400);
  await shot(console_, `console-${LANG}-390.png`);
  await Promise.all([dctx.close(), cctx.close(), vctx.close()]);
});
