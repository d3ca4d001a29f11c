/**
 * Test side of the two-instance Redis tests: forks gateway-redis-child.ts processes, keeps
 * what they report, and starts a private redis-server (for the tests that stop Redis; the
 * machine's shared one is never restarted). A unique key prefix per test keeps tests apart
 * on the shared Redis; `dropPrefix` cleans up.
 */
import { fork, spawn, type ChildProcess } from 'child_process';
import net from 'net';
import path from 'path';
import { Redis } from 'ioredis';

export interface Ended {
  key: string;
  text: string;
  outcome: string;
  error?: string;
  from: string;
}

/** Everything the instances of one test reported, in arrival order. */
export class Observed {
  readonly ended: Ended[] = [];
  readonly submitted = new Map<number, { status: string; reason?: string }>();
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];

  note(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves once `check` holds (checked on every report). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  /** Texts of turns that ended with `ended` (committed), in order. */
  committed(): string[] {
    return this.ended.filter((e) => e.outcome === 'ended').map((e) => e.text);
  }
}

export class Instance {
  private submits = new Map<number, (r: { status: string; reason?: string }) => void>();
  private exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    private readonly seen: Observed,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.on('message', (m: { type: string; n?: number; status?: string; reason?: string } & Partial<Ended>) => {
      if (m.type === 'submitted') {
        const r = { status: m.status!, ...(m.reason ? { reason: m.reason } : {}) };
        seen.submitted.set(m.n!, r);
        this.submits.get(m.n!)?.(r);
        this.submits.delete(m.n!);
      } else if (m.type === 'ended') {
        seen.ended.push({ key: m.key!, text: m.text!, outcome: m.outcome!, from: name, ...(m.error ? { error: m.error } : {}) });
      }
      seen.note();
    });
  }

  submit(n: number, peer: string, text: string): Promise<{ status: string; reason?: string }> {
    return new Promise((resolve) => {
      this.submits.set(n, resolve);
      this.proc.send({ type: 'submit', n, peer, text });
    });
  }

  /** A clean stop: the instance hands its running turns back and exits. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode) return;
    this.proc.send({ type: 'close' });
    await this.exited;
  }

  /** kill -9. */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Fork one instance and wait until its gateway is started. */
export async function startInstance(name: string, seen: Observed, cfg: Record<string, unknown>): Promise<Instance> {
  const proc = fork(path.join(__dirname, 'gateway-redis-child.ts'), [], {
    execArgv: ['--require', 'tsx/cjs'],
    env: { ...process.env, CLAWFLOW_REDIS_CHILD: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`instance ${name} exited early (${code})`)));
    proc.on('message', function ready(m: { type: string }) {
      if (m.type !== 'ready') return;
      proc.off('message', ready);
      proc.removeAllListeners('exit');
      resolve();
    });
  });
  return new Instance(name, proc, seen);
}

/** Delete every key under `prefix` on the Redis at `url`. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * A private redis-server with an append-only file fsynced on every write, in `dir`, so a
 * restart keeps what was acknowledged (as a production Redis for this must be configured).
 */
export class PrivateRedis {
  proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await canPing(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode) return;
    const gone = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await gone;
  }
}

function canPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}
