/**
 * The session store on Redis, for gateways in several Node-RED instances serving one flow.
 * Every operation is one Lua script (see redis-scripts.ts), so the per-session lock, the fence,
 * the backlog bounds and the cluster-wide slot limit hold across all instances. A running turn
 * holds a short lease in Redis that its instance renews ({@link RedisSessionStore.renew});
 * when an instance dies, any other one finds the expired lease (every `sweepEveryMs`, and on
 * start) and puts the turn back at the head of its queue with a bumped fence, so the dead
 * instance's late finish would be refused. "Something may be runnable" travels as a Pub/Sub
 * message (`P wake`) with polling as the safety net, so a lost message costs latency, never a turn.
 * History compaction (the summary in the session hash) and steer's absorbed messages (moved
 * from the queue into history by the finish script) behave as on the file store (0180).
 *
 * Redis going away does not lose anything accepted: operations fail fast with
 * {@link StoreUnavailableError} (no offline queue: a message is accepted only once Redis has
 * it), the client reconnects by itself, and on reconnect the store sweeps and signals again.
 */
import crypto from 'crypto';
import { Redis, ReplyError } from 'ioredis';
import type { KeyValueStore } from '../store/kv';
import { RedisKeyValueStore } from './redis-kv';
import { RedisUsageLedger } from './redis-usage';
import type { UsageLedger } from './budgets';
import { CLAIM, COMPACT, ENQUEUE, FINISH, RELEASE, RENEW, RESET, SWEEP } from './redis-scripts';
import type { CompactionState } from './compaction';
import { StoreUnavailableError, type SharedSessionStore, type SharedStoreSignal } from './shared-store';
import { sessionInfoOf } from './session-log';
import type { ClaimTake, OpenResult } from './store';
import type {
  BacklogBounds,
  ClaimedTurn,
  EnqueueResult,
  FinishResult,
  HistoryEntry,
  QueuedMessage,
  SessionInfo,
  SessionRecord,
  TurnOutcome,
} from './types';

/**
 * How long an accepted message's platform id is remembered (s). A channel delivers again within
 * minutes (Telegram after a crash, at the next start); a day also covers a long outage.
 */
const SEEN_TTL_S = 86_400;

/**
 * This process as a Redis instance: one id for all its stores, so a redeploy (a new store)
 * keeps claiming the messages it accepted before (its web chat sockets are still here).
 */
const PROCESS_INSTANCE = crypto.randomUUID();

export interface RedisSessionStoreOptions {
  /** Default `redis://127.0.0.1:6379`. A password here works, but belongs in `password`. */
  url?: string;
  password?: string;
  /** Prefix of every key (and the Pub/Sub channel). Default `clawflow:`. */
  prefix?: string;
  /** Idle sessions (nothing waiting or running) expire after this many ms; 0 keeps them. */
  idleTtlMs?: number;
  /** Lease of a running turn in Redis; renewed every third of it. Default 20000. */
  leaseTtlMs?: number;
  /** Turns running at once across all instances on this prefix. Default 10. */
  concurrency?: number;
  /** How often expired leases are looked for. Default a third of the lease. */
  sweepEveryMs?: number;
  /** A command not answered within this many ms fails (Redis unreachable). Default 5000. */
  commandTimeoutMs?: number;
  /**
   * Who this store is among the instances (default: one id per process). Messages it accepts
   * are claimed by it while it is alive. Tests that run two "instances" in one process set it.
   */
  instanceId?: string;
}

type State = 'new' | 'connecting' | 'ready' | 'down' | 'closed';
type Script = 'cfEnqueue' | 'cfClaim' | 'cfFinish' | 'cfRenew' | 'cfRelease' | 'cfReset' | 'cfSweep' | 'cfCompact';

/** The URL without user info, fit for messages and status. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return 'the configured Redis URL';
  }
}

export class RedisSessionStore implements SharedSessionStore {
  readonly kind = 'redis';
  readonly shared = true as const;
  readonly renewEveryMs: number;
  readonly prefix: string;
  private readonly url: string;
  private readonly o: Required<Omit<RedisSessionStoreOptions, 'url' | 'password' | 'prefix' | 'instanceId'>>;
  private readonly instance: string;
  private readonly client: Redis;
  private readonly sub: Redis;
  private state: State = 'new';
  private lastError = '';
  private fullFlag = false;
  private readonly listeners = new Set<(s: SharedStoreSignal) => void>();
  /** Turns this store claimed and has not finished: handed back on close. */
  private readonly owned = new Map<string, { turnId: string; fence: number }>();
  private readonly kvs = new Map<string, RedisKeyValueStore>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private ledger: RedisUsageLedger | undefined;
  private fetching = false;
  private refetch = false;

  constructor(opts: RedisSessionStoreOptions = {}) {
    this.url = opts.url?.trim() || 'redis://127.0.0.1:6379';
    this.instance = (opts.instanceId ?? PROCESS_INSTANCE).replace(/\s+/g, '-') || PROCESS_INSTANCE;
    this.prefix = opts.prefix ?? 'clawflow:';
    const lease = opts.leaseTtlMs ?? 20_000;
    if (!Number.isFinite(lease) || lease < 300) throw new RangeError(`the Redis lease must be at least 300 ms, got ${lease}`);
    const concurrency = opts.concurrency ?? 10;
    if (!Number.isFinite(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be at least 1, got ${concurrency}`);
    const idle = opts.idleTtlMs ?? 0;
    if (!Number.isFinite(idle) || idle < 0) throw new RangeError(`the idle TTL must be 0 or more, got ${idle}`);
    this.o = {
      idleTtlMs: Math.floor(idle),
      leaseTtlMs: Math.floor(lease),
      concurrency: Math.floor(concurrency),
      sweepEveryMs: opts.sweepEveryMs ?? Math.floor(lease / 3),
      commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
    };
    this.renewEveryMs = Math.floor(lease / 3);
    if (!/^rediss?:\/\//.test(this.url)) throw new RangeError(`the Redis URL must start with redis:// or rediss://, got ${redactRedisUrl(this.url)}`);
    const common = {
      lazyConnect: true,
      // Named after the prefix, so `CLIENT LIST` shows which gateway holds a connection.
      connectionName: `clawflow-gateway-${this.prefix.replace(/[^A-Za-z0-9:_.-]/g, '_')}`,
      ...(opts.password ? { password: opts.password } : {}),
      connectTimeout: this.o.commandTimeoutMs,
      // Capped backoff; never gives up: the instance carries on when Redis is back.
      retryStrategy: (times: number) => Math.min(100 * times, 2000),
    };
    // No offline queue: a command while Redis is away fails at once, so `accepted` means stored.
    // A command cut off by a disconnect fails too (not resent): its caller hears "unreachable".
    this.client = new Redis(this.url, {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.o.commandTimeoutMs,
    });
    this.sub = new Redis(this.url, { ...common, maxRetriesPerRequest: null });
    const scripts: [Script, string][] = [
      ['cfEnqueue', ENQUEUE],
      ['cfClaim', CLAIM],
      ['cfFinish', FINISH],
      ['cfRenew', RENEW],
      ['cfRelease', RELEASE],
      ['cfReset', RESET],
      ['cfSweep', SWEEP],
      ['cfCompact', COMPACT],
    ];
    for (const [name, lua] of scripts) this.client.defineCommand(name, { numberOfKeys: 0, lua });
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.sub.on('error', () => undefined); // the command client reports the same outage
    this.client.on('ready', () => this.onReady());
    this.client.on('close', () => this.onDown());
    this.sub.on('message', (channel: string) => {
      if (channel === this.wakeChannel) this.fetchRunnable();
    });
  }

  get full(): boolean {
    return this.fullFlag;
  }

  get reachable(): boolean {
    return this.state === 'ready';
  }

  private get wakeChannel(): string {
    return `${this.prefix}wake`;
  }

  onSignal(fn: (s: SharedStoreSignal) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Connect, requeue turns of dead instances, and report what waits. If Redis cannot be
   * reached now the store still opens (status: unreachable) and catches up when it comes.
   */
  async open(): Promise<OpenResult> {
    if (this.state !== 'new') throw new Error(`the redis session store was opened already`);
    this.state = 'connecting';
    this.sweepTimer = setInterval(() => void this.sweepAndWake(), this.o.sweepEveryMs);
    this.sub.subscribe(this.wakeChannel).catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    try {
      await this.client.connect();
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.state === 'connecting') this.onDown();
      return { keys: [], waiting: 0, requeued: 0 };
    }
    if (this.state === 'connecting') this.state = 'ready';
    try {
      await this.beat();
      const requeued = await this.sweep();
      const [keys, waiting] = await this.runnable(1000);
      return { keys, waiting, requeued };
    } catch (err) {
      throw this.wrap(err);
    }
  }

  async enqueue(msg: QueuedMessage, bounds: BacklogBounds): Promise<EnqueueResult> {
    const entry = `${JSON.stringify(userEntry(msg))}\n${JSON.stringify(msg)}`;
    const r = (await this.run('cfEnqueue', msg.key, entry, JSON.stringify(sessionInfoOf(msg.chat)), msg.ts, bounds.maxWaiting, bounds.maxWaitingPerSession, msg.platformId ?? '', SEEN_TTL_S, this.instance)) as [number, string, number, number];
    if (r[0] === 1) return { accepted: true, waiting: r[2], sessionWaiting: r[3] };
    return { accepted: false, reason: r[1] as 'busy' | 'session_busy' | 'duplicate', waiting: r[2], sessionWaiting: r[3] };
  }

  async claim(key: string, turnId: string, take: ClaimTake, historyLimit: number, _now?: number): Promise<ClaimedTurn | null> {
    const r = (await this.run('cfClaim', key, turnId, take, Math.max(0, historyLimit), this.o.concurrency, this.o.leaseTtlMs, this.instance)) as
      | [1, number, string[], string[], string, number, number, string, number]
      | [0, string];
    if (r[0] === 0) {
      if (r[1] === 'noslot') this.fullFlag = true;
      return null;
    }
    const [, fence, items, hist, ctx, total, epoch, summary, covers] = r;
    this.owned.set(key, { turnId, fence });
    return {
      key,
      turnId,
      fence,
      items: items.map((e) => JSON.parse(e.slice(e.indexOf('\n', e.indexOf('\n') + 1) + 1)) as QueuedMessage),
      history: hist.map((h) => JSON.parse(h) as HistoryEntry),
      context: JSON.parse(ctx) as Record<string, unknown>,
      total,
      epoch,
      ...(summary ? { summary: { text: summary, covers, epoch } } : {}),
    };
  }

  async finish(key: string, turnId: string, fence: number, outcome: TurnOutcome, now: number): Promise<FinishResult> {
    const reply = outcome.status === 'done' && outcome.reply ? JSON.stringify({ role: 'assistant', content: outcome.reply, ts: now }) : '';
    const ctx = outcome.context ? JSON.stringify(outcome.context) : '';
    // Steer: waiting messages the turn took in move into history in the same script.
    const absorbed = outcome.absorbed ?? [];
    const r = (await this.run('cfFinish', key, turnId, fence, reply, ctx, now, this.o.idleTtlMs, ...absorbed)) as [number, number?];
    const mine = this.owned.get(key);
    if (mine && mine.turnId === turnId) this.owned.delete(key);
    if (r[0] !== 1) return { ok: false, reason: 'stale' };
    // A slot is free: tell every instance (this one included) what may run now.
    this.fullFlag = false;
    this.client.publish(this.wakeChannel, '1').catch(() => undefined);
    return { ok: true, sessionWaiting: r[1] ?? 0 };
  }

  async renew(key: string, turnId: string, fence: number): Promise<boolean> {
    const r = await this.run('cfRenew', key, turnId, fence, this.o.leaseTtlMs);
    if (r !== 1) {
      const mine = this.owned.get(key);
      if (mine && mine.turnId === turnId) this.owned.delete(key);
    }
    return r === 1;
  }

  async reset(key: string, now: number): Promise<{ abortedTurnId?: string }> {
    const r = (await this.run('cfReset', key, now, this.o.idleTtlMs)) as string | null;
    if (r) {
      this.owned.delete(key);
      this.client.publish(this.wakeChannel, '1').catch(() => undefined);
      return { abortedTurnId: r };
    }
    return {};
  }

  /**
   * Keep summary `c.text` for the first `c.covers` history entries (one script: refused when the
   * session was reset since, or a newer summary is there). The history list itself stays whole.
   */
  async compact(key: string, c: CompactionState, _now?: number): Promise<boolean> {
    return (await this.run('cfCompact', key, c.epoch, c.covers, c.text)) === 1;
  }

  async session(key: string): Promise<SessionRecord | undefined> {
    // One MULTI, so the hash, the queue length and the history length are one snapshot.
    const [h, waiting, total] = await this.guard(
      this.client
        .multi()
        .hgetall(this.k('s', key))
        .llen(this.k('q', key))
        .llen(this.k('h', key))
        .exec()
        .then((res) => {
          const err = res?.find(([e]) => e)?.[0];
          if (!res || err) throw err ?? new Error('the session read was aborted');
          return res.map(([, v]) => v) as [Record<string, string>, number, number];
        }),
    );
    if (!h || !h.info) return undefined;
    return {
      key,
      info: JSON.parse(h.info) as SessionInfo,
      state: h.turnId ? 'processing' : waiting ? 'waiting' : 'idle',
      context: JSON.parse(h.context || '{}') as Record<string, unknown>,
      waiting,
      ...(h.turnId ? { turnId: h.turnId } : {}),
      fence: Number(h.fence) || 0,
      createdAt: Number(h.createdAt),
      updatedAt: Number(h.updatedAt),
      historyCount: total,
      epoch: Number(h.epoch) || 0,
      ...(h.summary ? { summary: { text: h.summary, covers: Number(h.covers) || 0, epoch: Number(h.epoch) || 0 } } : {}),
    };
  }

  async history(key: string): Promise<HistoryEntry[]> {
    const list = await this.guard(this.client.lrange(this.k('h', key), 0, -1));
    return list.map((h) => JSON.parse(h) as HistoryEntry);
  }

  kv(namespace: string): KeyValueStore {
    let s = this.kvs.get(namespace);
    if (!s) this.kvs.set(namespace, (s = new RedisKeyValueStore(this.client, `${this.prefix}kv:${namespace}`, (e) => this.wrap(e))));
    return s;
  }

  /** Budget and usage counters shared by all instances (HINCRBY per subject and day). */
  usageLedger(): UsageLedger {
    return (this.ledger ??= new RedisUsageLedger(this.client, this.prefix, (e) => this.wrap(e)));
  }

  /**
   * Hand this instance's unfinished turns back (they run again at once, on any instance), stop
   * the timers and close both connections.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.listeners.clear();
    if (wasReady && this.owned.size) {
      const back = [...this.owned].map(([key, t]) => this.script('cfRelease')(this.prefix, key, t.turnId, t.fence).catch(() => -1));
      const n = (await Promise.all(back)).filter((x) => Number(x) >= 0).length;
      if (n) await this.client.publish(this.wakeChannel, '1').catch(() => undefined);
    }
    this.owned.clear();
    this.sub.disconnect();
    if (wasReady) await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  /** Key of kind `s`, `q`, `r` or `h` for session `key`. */
  private k(kind: string, key: string): string {
    return `${this.prefix}${kind}:${key}`;
  }

  private async run(script: Script, key: string, ...args: (string | number)[]): Promise<unknown> {
    return this.guard(this.script(script)(this.prefix, key, ...args));
  }

  /** A script defined with `defineCommand` (ioredis adds it as a method; EVALSHA, EVAL fallback). */
  private script(name: Script): (...args: (string | number)[]) => Promise<unknown> {
    const fn = (this.client as unknown as Record<Script, (...a: (string | number)[]) => Promise<unknown>>)[name];
    return fn.bind(this.client);
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    if (this.state === 'closed') throw new Error('the redis session store is closed');
    try {
      return await p;
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /** A reply error is a real error; anything else means Redis could not be reached. */
  private wrap(err: unknown): Error {
    if (err instanceof ReplyError && !/^(LOADING|READONLY|MASTERDOWN|BUSY)/.test((err as Error).message)) return err as Error;
    if (err instanceof StoreUnavailableError) return err;
    return new StoreUnavailableError(this.unreachableText((err as Error)?.message), { cause: err });
  }

  private unreachableText(detail?: string): string {
    const why = this.lastError || detail || 'no connection';
    return `Redis at ${redactRedisUrl(this.url)} is unreachable (${why})`;
  }

  private onReady(): void {
    if (this.state === 'closed') return;
    const was = this.state;
    this.state = 'ready';
    this.lastError = '';
    if (was === 'down') {
      this.emit({ type: 'connection', state: 'up' });
      void this.sweepAndWake();
    }
  }

  private onDown(): void {
    if (this.state === 'closed' || this.state === 'down') return;
    this.state = 'down';
    this.emit({ type: 'connection', state: 'down', message: this.unreachableText() });
  }

  /** Requeue expired leases (all of them, in batches); returns how many turns. */
  private async sweep(): Promise<number> {
    let n = 0;
    for (;;) {
      const keys = (await this.script('cfSweep')(this.prefix, '', 100)) as string[];
      n += keys.length;
      for (const k of keys) {
        // One of ours whose lease lapsed (we could not renew in time): abort it here.
        const mine = this.owned.get(k);
        if (mine) {
          this.owned.delete(k);
          this.emit({ type: 'lost', key: k, turnId: mine.turnId });
        }
      }
      if (keys.length < 100) return n;
    }
  }

  /** Tell the other instances this one runs (its accepted messages stay its own to claim). */
  private async beat(): Promise<void> {
    await this.client.set(`${this.prefix}alive:${this.instance}`, '1', 'PX', this.o.leaseTtlMs);
  }

  private async sweepAndWake(): Promise<void> {
    if (this.state !== 'ready') return;
    try {
      await this.beat();
      const n = await this.sweep();
      if (n) await this.client.publish(this.wakeChannel, '1');
    } catch {
      /* unreachable: the connection events tell */
    }
    this.fetchRunnable();
  }

  private async runnable(n: number): Promise<[string[], number]> {
    const [keys, waiting] = await Promise.all([this.client.zrange(`${this.prefix}ready`, 0, n - 1), this.client.get(`${this.prefix}waiting`)]);
    return [keys, Math.max(0, Number(waiting) || 0)];
  }

  /** Read the oldest runnable sessions and signal them; calls coalesce. */
  private fetchRunnable(): void {
    if (this.state !== 'ready') return;
    if (this.fetching) {
      this.refetch = true;
      return;
    }
    this.fetching = true;
    this.fullFlag = false;
    this.runnable(Math.max(2 * this.o.concurrency, 20))
      .then(([keys, waiting]) => this.emit({ type: 'runnable', keys, waiting }))
      .catch(() => undefined)
      .finally(() => {
        this.fetching = false;
        if (this.refetch) {
          this.refetch = false;
          this.fetchRunnable();
        }
      });
  }

  private emit(s: SharedStoreSignal): void {
    for (const fn of this.listeners) {
      try {
        fn(s);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}

function userEntry(m: QueuedMessage): HistoryEntry {
  return { role: 'user', content: m.text, ...(m.name ? { name: m.name } : {}), ts: m.ts };
}
