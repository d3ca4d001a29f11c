/**
 * Headless Chromium for browser tests, driven by playwright-core (no bundled browser: the
 * system's /usr/bin/chromium). One place for the flags that make it quiet and offline, and
 * a guard that aborts every request that is not to 127.0.0.1, so a browser test can never
 * reach the internet (Node-RED's editor would otherwise fetch nothing remote anyway, but a
 * help text or example could link out).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { chromiumPath } from './services';

/** Flags for a headless, sandbox-free, offline Chromium in a container. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Requests the loopback guard aborted (their URLs), for assertions. */
  blocked: string[];
  /** Page errors (uncaught exceptions in the page). */
  pageErrors: string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  viewport?: { width: number; height: number };
  deviceScaleFactor?: number;
}

/**
 * Start Chromium with a throwaway profile and one page. Call `needService()` with
 * `hasChromium()` first; `close()` ends the browser and removes the profile.
 */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<BrowserSession> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: opts.viewport ?? { width: 1400, height: 860 },
    deviceScaleFactor: opts.deviceScaleFactor ?? 1,
  });
  const blocked: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:') return route.fallback();
    blocked.push(u.href);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(String(err?.message ?? err)));
  return {
    context,
    page,
    blocked,
    pageErrors,
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
