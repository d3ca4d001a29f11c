/**
 * A real Node-RED server in a child process, with its own temporary user dir, on a free
 * loopback port: for tests that must see Node-RED as a user does (palette install, example
 * deploys, browser tests, benchmarks). `stop()` ends it and removes the user dir.
 */
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';

export interface NodeRedProcess {
  url: string;
  port: number;
  userDir: string;
  child: ChildProcess;
  /** Everything the server printed so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** `node-red` (4.1, default) or `node-red-5` (needs Node 22.9+ to run as a server). */
  runtime?: string;
  userDir?: string;
  /** Extra settings merged into settings.js (JSON-serialisable). */
  settings?: Record<string, unknown>;
  /** A flows.json to start with. */
  flows?: unknown[];
  /** Symlink this package into the user dir's node_modules (as `npm start` does). */
  linkPackage?: boolean;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export const repoRoot = path.resolve(__dirname, '..', '..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startNodeRed(opts: StartOptions = {}): Promise<NodeRedProcess> {
  const port = await freePort();
  const userDir = opts.userDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-nr-'));
  fs.mkdirSync(userDir, { recursive: true });
  if (!fs.existsSync(path.join(userDir, 'package.json'))) {
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'nr-test-userdir', private: true }));
  }
  if (opts.linkPackage) {
    const link = path.join(userDir, 'node_modules', '@clawflow', 'node-red');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    if (!fs.existsSync(link)) fs.symlinkSync(repoRoot, link, 'dir');
  }
  if (opts.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(opts.flows));
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'clawflow-test-secret',
    logging: { console: { level: 'info', metrics: false, audit: false } },
    editorTheme: { tours: false },
    ...opts.settings,
  };
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const redJs = require.resolve(`${opts.runtime ?? 'node-red'}/red.js`, { paths: [repoRoot] });
  const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsFile], {
    cwd: userDir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited (${child.exitCode}) before it served:\n${output}`);
    try {
      const res = await fetch(`${url}/settings`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Node-RED did not answer on ${url} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    userDir,
    child,
    log: () => output,
    async stop() {
      // A process killed by a signal has exitCode null but signalCode set: it is gone already.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      if (!opts.userDir) fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** Node types a package's editor files register (literal `RED.nodes.registerType('…'`). */
export function registeredTypes(): { type: string; file: string; category: string }[] {
  const dir = path.join(repoRoot, 'nodes');
  const out: { type: string; file: string; category: string }[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.html'))) {
    const html = fs.readFileSync(path.join(dir, f), 'utf8');
    const re = /RED\.nodes\.registerType\(\s*['"]([^'"]+)['"]\s*,\s*\{([\s\S]*?)\n\s*\}\s*\)/g;
    for (let m = re.exec(html); m; m = re.exec(html)) {
      const cat = /category\s*:\s*['"]([^'"]+)['"]/.exec(m[2]);
      out.push({ type: m[1], file: f, category: cat ? cat[1] : '' });
    }
  }
  return out;
}
