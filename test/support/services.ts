/**
 * System services some suites need (Chromium, Redis). On a developer machine a missing
 * service skips the suite with a plain reason, collected and printed at the end of the run;
 * with CI=true a missing service fails the suite, because .ci/run is meant to provide it.
 */
import { existsSync } from 'fs';
import net from 'net';

export const skippedSuites: { suite: string; why: string }[] = [];

export function needService(ctx: Mocha.Context, suite: string, available: boolean, why: string): void {
  if (available) return;
  if (process.env.CI === 'true') {
    throw new Error(`${suite}: ${why} (CI=true, so this is a failure: .ci/run should have provided it)`);
  }
  skippedSuites.push({ suite, why });
  ctx.skip();
}

export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export function hasChromium(): boolean {
  return existsSync(chromiumPath);
}

export function canConnect(port: number, host = '127.0.0.1', ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(ms, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
