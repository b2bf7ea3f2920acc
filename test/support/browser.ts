import fs from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium package; playwright-core drives it without downloading a browser of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches headless Chromium and closes it after the test. Without Chromium the test is skipped with a
 * message saying so, except under CI=true, where a missing browser must not pass for a green run.
 */
export async function launchChromium(t: TestContext): Promise<Browser | undefined> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    const why = `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium fonts-wqy-zenhei); browser test skipped`;
    if (process.env.CI === 'true') throw new Error(why);
    process.stderr.write(`${why}\n`);
    t.skip(why);
    return undefined;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  return browser;
}

/**
 * Collects uncaught exceptions and console errors of a page, so a test can assert the console ran cleanly.
 * Failed resource loads are left out: an expected 401 from /api/v1/auth/me before login logs one.
 */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(`console.error: ${msg.text()}`);
  });
  return errors;
}

/** A page in a fresh browser context signed in with a session cookie (`name=value` as `srv.login` returns it). */
export async function pageWithCookie(browser: Browser, url: string, cookie: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  const [name, value] = cookie.split('=') as [string, string];
  await context.addCookies([{ name, value, url }]);
  const page = await context.newPage();
  return { page, errors: watchPageErrors(page) };
}
