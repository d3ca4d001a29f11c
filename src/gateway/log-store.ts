/**
 * The part the memory and file stores share: sessions as {@link SessionLog}s in memory, one
 * promise chain per key so operations on a session apply in call order, and the backlog
 * bounds checked synchronously (reserved before the journal write, so two concurrent
 * enqueues can never both take the last place). Subclasses decide how an event is persisted.
 */
import { SessionLog, sessionInfoOf, type SessionEvent } from './session-log';
import type { ClaimTake, OpenResult, SessionStore } from './store';
import type {
  BacklogBounds,
  ClaimedTurn,
  EnqueueResult,
  FinishResult,
  HistoryEntry,
  QueuedMessage,
  SessionRecord,
  TurnOutcome,
} from './types';
import type { KeyValueStore } from '../store/kv';
import { KvUsageLedger, type UsageLedger } from './budgets';
import type { CompactionState } from './compaction';

export abstract class LogBackedStore implements SessionStore {
  abstract readonly kind: string;
  protected sessions = new Map<string, SessionLog>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Waiting messages in all sessions, including enqueues still being written. */
  private waiting = 0;
  private readonly reserved = new Map<string, number>();
  private state: 'new' | 'open' | 'closed' = 'new';

  /** Write `ev` durably (no-op in memory). `created`: the first event of a new session. */
  protected abstract persist(key: string, ev: SessionEvent, created: boolean): Promise<void>;
  /** Sessions as last persisted. */
  protected abstract load(): Promise<SessionLog[]>;
  abstract kv(namespace: string): KeyValueStore;

  async open(): Promise<OpenResult> {
    const logs = await this.load();
    this.sessions = new Map(logs.map((l) => [l.key, l]));
    let requeued = 0;
    this.waiting = 0;
    const keys: string[] = [];
    for (const log of logs) {
      if (log.requeueRunning()) requeued++;
      if (log.pending.length) keys.push(log.key);
      this.waiting += log.pending.length;
    }
    // Oldest waiting message first, so recovery keeps the original arrival order across sessions.
    keys.sort((a, b) => this.sessions.get(a)!.pending[0].ts - this.sessions.get(b)!.pending[0].ts);
    this.state = 'open';
    return { keys, waiting: this.waiting, requeued };
  }

  async enqueue(msg: QueuedMessage, bounds: BacklogBounds): Promise<EnqueueResult> {
    this.assertOpen();
    const key = msg.key;
    const sessionWaiting = (this.sessions.get(key)?.pending.length ?? 0) + (this.reserved.get(key) ?? 0);
    if (this.sessions.get(key)?.hasSeen(msg.platformId)) {
      return { accepted: false, reason: 'duplicate', waiting: this.waiting, sessionWaiting };
    }
    if (sessionWaiting >= bounds.maxWaitingPerSession) {
      return Promise.resolve({ accepted: false, reason: 'session_busy', waiting: this.waiting, sessionWaiting });
    }
    if (this.waiting >= bounds.maxWaiting) {
      return Promise.resolve({ accepted: false, reason: 'busy', waiting: this.waiting, sessionWaiting });
    }
    this.waiting++;
    this.reserved.set(key, (this.reserved.get(key) ?? 0) + 1);
    const unreserve = () => {
      const r = (this.reserved.get(key) ?? 1) - 1;
      if (r) this.reserved.set(key, r);
      else this.reserved.delete(key);
    };
    return this.serial(key, async () => {
      let log = this.sessions.get(key);
      const created = !log;
      if (log?.hasSeen(msg.platformId)) {
        // The same message twice at once: the first one's write ran before this one.
        this.waiting--;
        unreserve();
        return { accepted: false as const, reason: 'duplicate' as const, waiting: this.waiting, sessionWaiting: log.pending.length };
      }
      try {
        if (!log) {
          const info = sessionInfoOf(msg.chat);
          await this.persist(key, { t: 'open', key, info, ts: msg.ts }, true);
          log = new SessionLog(key, info, msg.ts, this.keepInMemory);
          this.sessions.set(key, log);
        }
        const ev: SessionEvent = { t: 'enq', msg };
        await this.persist(key, ev, false);
        log.apply(ev);
      } catch (err) {
        this.waiting--;
        if (created && log && !log.pending.length) this.sessions.delete(key);
        throw err;
      } finally {
        unreserve();
      }
      return { accepted: true as const, waiting: this.waiting, sessionWaiting: log.pending.length };
    });
  }

  async claim(key: string, turnId: string, take: ClaimTake, historyLimit: number, now: number): Promise<ClaimedTurn | null> {
    this.assertOpen();
    return this.serial(key, async () => {
      const log = this.sessions.get(key);
      if (!log || log.running || !log.pending.length) return null;
      const items = take === 'all' ? [...log.pending] : [log.pending[0]];
      const ev: SessionEvent = { t: 'start', turnId, fence: log.fence + 1, ids: items.map((m) => m.id), ts: now };
      await this.persist(key, ev, false);
      log.apply(ev);
      this.waiting -= items.length;
      return {
        key,
        turnId,
        fence: ev.fence,
        items,
        history: historyLimit > 0 ? log.history.slice(-historyLimit) : [],
        context: structuredClone(log.context),
        total: log.total,
        epoch: log.epoch,
        ...(log.summary ? { summary: { ...log.summary } } : {}),
      };
    });
  }

  async finish(key: string, turnId: string, fence: number, outcome: TurnOutcome, now: number): Promise<FinishResult> {
    this.assertOpen();
    return this.serial(key, async () => {
      const log = this.sessions.get(key);
      if (!log || !log.isRunning(turnId, fence)) return { ok: false as const, reason: 'stale' as const };
      const ev: SessionEvent = {
        t: 'end',
        turnId,
        fence,
        status: outcome.status,
        ...(outcome.reply ? { reply: outcome.reply } : {}),
        ...(outcome.context ? { context: outcome.context } : {}),
        ...(outcome.absorbed?.length ? { absorbed: outcome.absorbed } : {}),
        ts: now,
      };
      const before = log.pending.length;
      try {
        await this.persist(key, ev, false);
      } finally {
        // Even if the write failed the lock is released in memory: a disk error must not wedge
        // the session. The error still reaches the caller.
        log.apply(ev);
        this.waiting -= before - log.pending.length; // absorbed messages left the queue
      }
      return { ok: true as const, sessionWaiting: log.pending.length };
    });
  }

  async reset(key: string, now: number): Promise<{ abortedTurnId?: string }> {
    this.assertOpen();
    return this.serial(key, async () => {
      const log = this.sessions.get(key);
      if (!log) return {};
      const abortedTurnId = log.running?.turnId;
      const ev: SessionEvent = { t: 'reset', fence: log.fence + 1, ts: now };
      await this.persist(key, ev, false);
      log.apply(ev);
      return abortedTurnId ? { abortedTurnId } : {};
    });
  }

  async compact(key: string, c: CompactionState, now: number): Promise<boolean> {
    this.assertOpen();
    return this.serial(key, async () => {
      const log = this.sessions.get(key);
      if (!log || c.epoch !== log.epoch || c.covers > log.total || c.covers <= (log.summary?.covers ?? 0)) return false;
      const ev: SessionEvent = { t: 'compact', epoch: c.epoch, covers: c.covers, summary: c.text, ts: now };
      await this.persist(key, ev, false);
      log.apply(ev);
      return true;
    });
  }

  private ledger: UsageLedger | undefined;
  usageLedger(): UsageLedger {
    if (!this.ledger) this.ledger = new KvUsageLedger(this.kv('usage'));
    return this.ledger;
  }

  async session(key: string): Promise<SessionRecord | undefined> {
    return this.serial(key, async () => this.sessions.get(key)?.record());
  }

  async history(key: string): Promise<HistoryEntry[]> {
    return this.serial(key, async () => structuredClone(this.sessions.get(key)?.history ?? []));
  }

  async close(): Promise<void> {
    this.state = 'closed';
    await Promise.allSettled([...this.chains.values()]);
  }

  /** How many history entries a session keeps in memory. */
  protected get keepInMemory(): number {
    return Infinity;
  }

  /** Run `fn` after every earlier operation on `key`. */
  protected serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  private assertOpen(): void {
    if (this.state !== 'open') {
      throw new Error(`the ${this.kind} session store is ${this.state === 'new' ? 'not open yet' : 'closed'}`);
    }
  }
}
