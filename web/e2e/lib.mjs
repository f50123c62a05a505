// Shared helpers for the browser tests: Debian's chromium through playwright-core (never a downloaded browser),
// every request recorded so the test can prove nothing leaves 127.0.0.1, screenshots into artifacts/.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = process.env.LIFECHAIN_URL || 'http://127.0.0.1:8000';
export const ARTIFACTS = process.env.LIFECHAIN_ARTIFACTS || resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export const PASSWORD = process.env.DEMO_PASSWORD || 'lifechain-demo';
export const DESKTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

const requests = [];
const failures = [];
const pages = [];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--no-first-run',
    ],
  });
}

/** A browser context in `locale`, recording every request and every page error. */
export async function context(browser, { locale = 'en-US', viewport = DESKTOP, mobile = false, name = 'ctx' } = {}) {
  const ctx = await browser.newContext({ locale, viewport, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: 1 });
  ctx.on('request', (r) => requests.push(r.url()));
  ctx.on('page', (p) => watch(p, name));
  return ctx;
}

function watch(page, name) {
  pages.push([name, page]);
  page.on('pageerror', (err) => failures.push(`${name}: page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource|EventSource|net::ERR/.test(msg.text())) {
      failures.push(`${name}: console error: ${msg.text()}`);
    }
  });
}

export async function shot(page, file) {
  const path = resolve(ARTIFACTS, file);
  await page.screenshot({ path });
  log('screenshot', path);
}

export function log(...parts) {
  console.log('[e2e]', ...parts);
}

export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}

/** Every request went to 127.0.0.1 (or stayed inside the page: data:, blob:). */
export function assertLocalOnly() {
  const bad = requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    try {
      return new URL(u).hostname !== '127.0.0.1';
    } catch {
      return true;
    }
  });
  log(`requests recorded: ${requests.length}, leaving 127.0.0.1: ${bad.length}`);
  check(requests.length > 0, 'some requests were recorded');
  check(bad.length === 0, `requests left 127.0.0.1: ${bad.slice(0, 5).join(', ')}`);
}

export function assertNoPageErrors() {
  check(failures.length === 0, `page errors: ${failures.slice(0, 5).join(' | ')}`);
}

/** Sign in as demo user `username` on the page at `path`, and wait for the element `testid` of the screen. */
export async function login(page, path, username, testid, timeout = 20000) {
  await page.goto(`${BASE}${path}`);
  await page.getByTestId('login-form').waitFor({ timeout });
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('form[data-testid=login-form] button[type=submit]').click();
  await page.getByTestId(testid).waitFor({ timeout });
}

/** Wait until the map drew the city's roads (the MapView sets data-roads once the GeoJSON is in). */
export async function waitForRoads(page) {
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid=map]');
    return el && Number(el.getAttribute('data-roads')) > 0;
  }, null, { timeout: 20000 });
  // Let WebGL paint a frame before a screenshot.
  await page.waitForTimeout(300);
}

/** Run `body`, report, and exit non-zero on any failure. */
export async function run(name, body) {
  const started = Date.now();
  let browser;
  try {
    browser = await launch();
    await body(browser);
    assertNoPageErrors();
    assertLocalOnly();
    log(`${name}: OK in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error(`[e2e] ${name}: FAILED: ${err && err.stack ? err.stack : err}`);
    if (failures.length) console.error(`[e2e] page errors: ${failures.slice(0, 5).join(' | ')}`);
    for (const [who, page] of pages) {
      try {
        const errors = await page.locator('.error').allTextContents();
        const states = await page.evaluate(() => [...document.querySelectorAll('[data-state],[data-status]')]
          .map((e) => `${e.getAttribute('data-testid')}=${e.getAttribute('data-state') ?? e.getAttribute('data-status')}`).slice(0, 12).join(' '));
        console.error(`[e2e] ${who}: errors shown: ${JSON.stringify(errors)}; states: ${states}`);
      } catch {
        /* page closed */
      }
    }
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
  }
}
