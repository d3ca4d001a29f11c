/**
 * Crash and restart tests against a real Node-RED process (test/e2e/process-*.test.ts): a
 * private snapshot of the built package (so a concurrent build wiping dist/ cannot pull the
 * nodes from under a running server), start / kill -9 / restart on the same user dir, full
 * deploys through the admin API with credentials inline, and the log checks every test makes.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { repoRoot, startNodeRed, type NodeRedProcess } from './node-red-process';

export interface PackageSnapshot {
  /** Temp root holding the package copy and every user dir made from it. */
  root: string;
  pkgDir: string;
  remove(): void;
}

/** Copy dist/ and package.json to a temp package dir (node_modules symlinked to the repo's). */
export function snapshotPackage(): PackageSnapshot {
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'nodes'))) {
    throw new Error('dist/nodes is missing: run `node scripts/build.js` first');
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-e2e-'));
  const pkgDir = path.join(root, 'pkg');
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(pkgDir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(pkgDir, 'package.json'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(pkgDir, 'node_modules'), 'dir');
  return { root, pkgDir, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** A fresh user dir under the snapshot with the package linked as a palette install would. */
export function makeUserDir(snap: PackageSnapshot, name: string): string {
  const userDir = path.join(snap.root, name);
  fs.mkdirSync(path.join(userDir, 'node_modules', '@clawflow'), { recursive: true });
  fs.symlinkSync(snap.pkgDir, path.join(userDir, 'node_modules', '@clawflow', 'node-red'), 'dir');
  return userDir;
}

/** Short Telegram backoffs and long polls so a test sees recoveries within seconds. */
export const FAST_SETTINGS = {
  clawflowTelegram: { pollTimeoutSeconds: 5, backoffMs: 100, backoffMaxMs: 500, conflictBackoffMs: 200, conflictBackoffMaxMs: 1000 },
};

/**
 * Start Node-RED on `userDir` (flows and credentials there are loaded as they are).
 * `E2E_METRICS=1` logs Node-RED's per-message metrics (receive/send/done per node), the
 * quickest way to see where a message stopped.
 */
export function startOn(userDir: string): Promise<NodeRedProcess> {
  const debug = process.env.E2E_METRICS ? { logging: { console: { level: 'info', metrics: true, audit: false } } } : {};
  return startNodeRed({ userDir, settings: { ...FAST_SETTINGS, ...debug } });
}

/** The process's end, however it came (exit code or signal). */
function exited(nr: NodeRedProcess): Promise<void> {
  const c = nr.child;
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((r) => c.once('exit', () => r()));
}

/** kill -9: no close handlers, no flush; resolves when the process is gone. */
export async function killHard(nr: NodeRedProcess): Promise<void> {
  const gone = exited(nr);
  nr.child.kill('SIGKILL');
  await gone;
}

/**
 * Stop gracefully if still running (`NodeRedProcess.stop` waits for an exit event that a
 * killed process already emitted, so a dead one is not handed to it).
 */
export async function stopQuietly(nr: NodeRedProcess | undefined): Promise<void> {
  if (!nr) return;
  if (nr.child.exitCode !== null || nr.child.signalCode !== null) return;
  await nr.stop();
}

/** Deploy `flow`: `full`, or `nodes` (the editor's "Modified Nodes": only changed nodes restart). */
export async function deploy(nr: NodeRedProcess, flow: unknown[], type: 'full' | 'nodes' | 'flows' = 'full'): Promise<void> {
  const res = await fetch(`${nr.url}/flows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Node-RED-API-Version': 'v1', 'Node-RED-Deployment-Type': type },
    body: JSON.stringify(flow),
  });
  if (res.status !== 204 && res.status !== 200) throw new Error(`deploy refused: ${res.status} ${await res.text()}`);
}

/** Poll `cond` every 50 ms until it holds; reject after `ms` naming `what` and `detail()`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, ms: number, detail?: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait until the log (from `from` on) says the flows started. */
export function flowsStarted(nr: NodeRedProcess, from = 0, ms = 20_000): Promise<void> {
  return waitUntil(() => /Started flows/.test(nr.log().slice(from)), 'Started flows', ms, () => nr.log().slice(from).slice(-2000));
}

/** Signs of a crash or a bug: unhandled rejections, uncaught exceptions, stack traces. */
const CRASH = /unhandled|uncaught|TypeError|ReferenceError|RangeError|SyntaxError|FATAL|Maximum call stack|\n\s+at .+\(.+:\d+:\d+\)/i;

/** Log lines that show a crash or a programming error. */
export function crashLines(log: string): string[] {
  return log.split('\n').filter((l) => CRASH.test(l));
}

/** `[error]` lines not matching `expected`. */
export function unexpectedErrors(log: string, expected?: RegExp): string[] {
  return log.split('\n').filter((l) => /\[error\]/.test(l) && !(expected && expected.test(l)));
}

/** The runtime still serves its admin API. */
export async function alive(nr: NodeRedProcess): Promise<boolean> {
  try {
    const res = await fetch(`${nr.url}/settings`);
    return res.ok;
  } catch {
    return false;
  }
}
