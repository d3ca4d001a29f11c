/**
 * The session gateway engine: accepts chat messages into per-session queues, runs at most one
 * turn per session at a time (the lock), at most `concurrency` turns overall, fairly across
 * sessions (round robin: a session whose turn ended goes to the back of the line), and
 * refuses with a reason, never silently, when a backlog bound is reached.
 *
 * It knows no Node-RED. A turn is handed out through the `turn` event and closed with
 * {@link Gateway.endTurn}; a lease timer closes it if nobody does. All durable state lives in
 * the {@link SessionStore}; this class only holds timers and local counters.
 */
import crypto from 'crypto';
import { requireEnvelope, EnvelopeError, type ChatEnvelope } from '../envelope';
import { abortTurn, releaseTurnSignal } from '../turn-signals';
import { isShared, sessionKey, checkKeyTemplate, type KeyOptions } from './keys';
import { historyWindow, type WindowOptions } from './window';
import type { OpenResult, SessionStore } from './store';
import type { HistoryEntry, QueuedMessage, SessionRecord, TurnStatus } from './types';

/**
 * What happens to a message that arrives while its session is busy:
 * - `followup`: it waits and runs as its own turn, in arrival order.
 * - `collect`: everything that waits is merged into the next single turn.
 * - `interrupt`: the running turn is aborted (its abort signal fires) and the waiting
 *   messages run as the next turn at once.
 */
export type QueueMode = 'followup' | 'collect' | 'interrupt';

export interface GatewayOptions {
  store: SessionStore;
  /** Names this gateway in the registry and on msg.session.configId. */
  id?: string;
  /** Turns running at once across all sessions. Default 10. */
  concurrency?: number;
  /** Waiting messages across all sessions before `busy`. Default 1000. */
  maxWaiting?: number;
  /** Waiting messages in one session before `session_busy`. Default 20. */
  maxWaitingPerSession?: number;
  /** A turn not ended within this many ms is released with an `expired` event. Default 300000. */
  leaseMs?: number;
  mode?: QueueMode;
  keys?: KeyOptions;
  window?: WindowOptions;
  /** Command words that clear a session (`/new`, `/reset`). Default `['new', 'reset']`. */
  resetWords?: string[];
  /** Channels accepted; empty or absent: any. */
  channels?: string[];
  /** Clock, for tests. */
  now?: () => number;
}

/** A turn handed out by the `turn` event. */
export interface Turn {
  key: string;
  turnId: string;
  /** Pass it back to {@link Gateway.endTurn}. */
  fence: number;
  /** The user's text; in collect mode the waiting messages joined by newlines. */
  text: string;
  /** The accepted messages this turn answers, oldest first. */
  items: QueuedMessage[];
  /** The history window, the turn's own user entries last. */
  history: HistoryEntry[];
  context: Record<string, unknown>;
  /** The envelope of the newest message of the turn (reply there). */
  chat: ChatEnvelope;
  /** `origin` of the newest message (the node that accepted it). */
  origin?: string;
}

export type RejectReason = 'busy' | 'session_busy' | 'closed';

export type SubmitResult =
  | { status: 'accepted'; key: string; id: string }
  | { status: 'rejected'; key: string; reason: RejectReason }
  | { status: 'reset'; key: string };

export interface GatewayStats {
  /** Slots in use: turns running plus claims being made. */
  active: number;
  /** Accepted messages not yet in a turn. */
  waiting: number;
  accepted: number;
  rejected: number;
  /** Turns released by the lease timer. */
  expired: number;
}

export interface GatewayEvents {
  turn: (turn: Turn) => void;
  /** A lease ran out: the turn was released without a reply. */
  expired: (info: { key: string; turnId: string; leaseMs: number }) => void;
  /** Something failed outside any caller's reach (a store write in a timer, a listener). */
  error: (err: Error, key?: string) => void;
  /** Counters changed (for status displays). */
  change: (stats: GatewayStats) => void;
}

interface Running {
  turnId: string;
  fence: number;
  timer: NodeJS.Timeout;
}

export class Gateway {
  readonly id: string;
  readonly store: SessionStore;
  private readonly o: Required<Omit<GatewayOptions, 'store' | 'id' | 'keys' | 'window' | 'channels'>> & {
    keys: KeyOptions;
    window: WindowOptions;
    channels: string[];
  };
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private opening: Promise<OpenResult> | undefined;
  private readonly listeners: { [E in keyof GatewayEvents]: Set<GatewayEvents[E]> } = {
    turn: new Set(),
    expired: new Set(),
    error: new Set(),
    change: new Set(),
  };
  /** Sessions with messages waiting for a slot, in the order they get one. */
  private ready: string[] = [];
  private readonly readySet = new Set<string>();
  /** Sessions claiming or running here (the local mirror of the store's lock). */
  private readonly busy = new Set<string>();
  private readonly running = new Map<string, Running>();
  private active = 0;
  private waiting = 0;
  private accepted = 0;
  private rejected = 0;
  private expiredCount = 0;

  constructor(opts: GatewayOptions) {
    this.store = opts.store;
    this.id = opts.id ?? crypto.randomUUID();
    const positive = (v: number | undefined, d: number, what: string) => {
      if (v === undefined) return d;
      if (!Number.isFinite(v) || v < 1) throw new RangeError(`${what} must be a number of at least 1, got ${v}`);
      return Math.floor(v);
    };
    const mode = opts.mode ?? 'followup';
    if (!['followup', 'collect', 'interrupt'].includes(mode)) {
      throw new RangeError(`queue mode must be followup, collect or interrupt, got "${mode}"`);
    }
    if (opts.keys?.scheme === 'template') checkKeyTemplate(opts.keys.template ?? '');
    this.o = {
      concurrency: positive(opts.concurrency, 10, 'concurrency'),
      maxWaiting: positive(opts.maxWaiting, 1000, 'maxWaiting'),
      maxWaitingPerSession: positive(opts.maxWaitingPerSession, 20, 'maxWaitingPerSession'),
      leaseMs: positive(opts.leaseMs, 300_000, 'leaseMs'),
      mode,
      keys: opts.keys ?? {},
      window: opts.window ?? {},
      resetWords: (opts.resetWords ?? ['new', 'reset']).map((w) => w.replace(/^\//, '').trim().toLowerCase()).filter(Boolean),
      channels: (opts.channels ?? []).map((c) => c.trim()).filter(Boolean),
      now: opts.now ?? Date.now,
    };
  }

  /** Subscribe; returns the function that unsubscribes. Listener errors become `error` events. */
  on<E extends keyof GatewayEvents>(event: E, fn: GatewayEvents[E]): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  /**
   * Open the store and start running what waits in it: messages accepted before a restart and
   * turns that were running when the gateway last stopped (they run again). Idempotent.
   */
  start(): Promise<OpenResult> {
    if (!this.opening) {
      this.state = 'opening';
      this.opening = this.store.open().then((r) => {
        if (this.state !== 'opening') return r;
        this.state = 'open';
        this.waiting = r.waiting;
        for (const k of r.keys) this.markReady(k);
        this.pump();
        this.changed();
        return r;
      });
    }
    return this.opening;
  }

  /** The session key `chat` belongs to (see keys.ts for the schemes). */
  keyOf(chat: ChatEnvelope): string {
    return sessionKey(chat, this.o.keys);
  }

  /**
   * Offer a message. Resolves once the outcome is certain: `accepted` only after the store has
   * journaled it; `rejected` with the reason when a backlog bound is reached (or the gateway is
   * closed); `reset` when the text is a reset command (history and context cleared, the
   * running turn aborted). Throws {@link EnvelopeError} for a message without a usable
   * `msg.chat`, and store errors as they are.
   */
  async submit(chatIn: unknown, text?: string, meta: { origin?: string } = {}): Promise<SubmitResult> {
    const chat = requireEnvelope(chatIn);
    if (this.o.channels.length && !this.o.channels.includes(chat.channel)) {
      throw new EnvelopeError(
        `msg.chat.channel "${chat.channel}" is not one this session gateway serves (${this.o.channels.join(', ')}): add it to the channels of the sessions config, or route it elsewhere`,
      );
    }
    if (this.state === 'new') throw new Error('the session gateway was not started (call start() first)');
    if (this.state === 'opening') await this.opening;
    const key = this.keyOf(chat);
    if (this.state !== 'open') return this.reject(key, 'closed');
    const body = typeof text === 'string' ? text : chat.text;
    if (this.isReset(chat, body)) {
      await this.reset(key);
      return { status: 'reset', key };
    }
    const msg: QueuedMessage = {
      id: crypto.randomUUID(),
      key,
      text: body,
      chat,
      ts: this.o.now(),
      ...(isShared(chat, this.o.keys) ? { name: chat.senderName || chat.senderId } : {}),
      ...(meta.origin ? { origin: meta.origin } : {}),
    };
    const r = await this.store.enqueue(msg, {
      maxWaiting: this.o.maxWaiting,
      maxWaitingPerSession: this.o.maxWaitingPerSession,
    });
    if (!r.accepted) return this.reject(key, r.reason);
    this.accepted++;
    this.waiting++;
    if (this.o.mode === 'interrupt') this.interrupt(key);
    if (this.state === 'open') {
      this.markReady(key);
      this.pump();
    }
    this.changed();
    return { status: 'accepted', key, id: msg.id };
  }

  /**
   * Close a turn: append the reply (or, with `error`, nothing) to history, release the
   * session's lock and the slot. `stale` when the turn is no longer the session's running turn
   * (its lease expired, it was interrupted or reset, or it ran before a restart): nothing
   * changes then, so a late end never appends twice or frees someone else's turn.
   */
  async endTurn(
    ref: { key: string; turnId: string; fence: number },
    outcome: { reply?: string; error?: unknown; context?: Record<string, unknown> } = {},
  ): Promise<'ended' | 'stale'> {
    releaseTurnSignal(ref.turnId);
    if (this.state === 'closed') return 'stale';
    const status: TurnStatus = outcome.error ? 'error' : 'done';
    return this.finishTurn(ref.key, ref.turnId, ref.fence, {
      status,
      ...(status === 'done' && outcome.reply ? { reply: outcome.reply } : {}),
      ...(outcome.context && typeof outcome.context === 'object' ? { context: outcome.context } : {}),
    });
  }

  /**
   * Clear a session's history and context now (what `/reset` does). A running turn is aborted
   * and its late end is ignored; waiting messages stay and run on the fresh session.
   */
  async reset(key: string): Promise<void> {
    const res = await this.store.reset(key, this.o.now());
    if (!res.abortedTurnId) return;
    abortTurn(res.abortedTurnId, 'session reset');
    const r = this.running.get(key);
    if (r && r.turnId === res.abortedTurnId) this.release(key, r, true);
  }

  /** The session record (state, context, waiting count), or undefined. */
  session(key: string): Promise<SessionRecord | undefined> {
    return this.store.session(key);
  }

  /** The whole history of a session since its last reset. */
  history(key: string): Promise<HistoryEntry[]> {
    return this.store.history(key);
  }

  stats(): GatewayStats {
    return {
      active: this.active,
      waiting: Math.max(0, this.waiting),
      accepted: this.accepted,
      rejected: this.rejected,
      expired: this.expiredCount,
    };
  }

  /**
   * Stop: clear every lease timer, abort running turns (their signals fire), close the store.
   * Turns that were running stay unfinished in the store and run again after the next start;
   * waiting messages wait. Later `endTurn` calls are stale, later `submit`s are rejected.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const r of this.running.values()) {
      clearTimeout(r.timer);
      abortTurn(r.turnId, 'the session gateway stopped (redeploy or shutdown); the turn runs again after restart');
    }
    this.running.clear();
    this.ready = [];
    this.readySet.clear();
    await this.opening?.catch(() => undefined);
    await this.store.close();
  }

  private reject(key: string, reason: RejectReason): SubmitResult {
    this.rejected++;
    this.changed();
    return { status: 'rejected', key, reason };
  }

  private isReset(chat: ChatEnvelope, text: string): boolean {
    const words = this.o.resetWords;
    if (!words.length) return false;
    if (chat.command) return words.includes(chat.command.name.toLowerCase());
    const m = /^\/([^\s@]+)(@\S+)?\s*$/.exec(text.trim());
    return !!m && words.includes(m[1].toLowerCase());
  }

  private markReady(key: string): void {
    if (this.busy.has(key) || this.readySet.has(key)) return;
    this.readySet.add(key);
    this.ready.push(key);
  }

  /** Hand free slots to ready sessions, oldest first. */
  private pump(): void {
    while (this.state === 'open' && this.active < this.o.concurrency && this.ready.length) {
      const key = this.ready.shift()!;
      this.readySet.delete(key);
      if (this.busy.has(key)) continue;
      this.busy.add(key);
      this.active++;
      void this.startTurn(key);
    }
  }

  private async startTurn(key: string): Promise<void> {
    const turnId = crypto.randomUUID();
    const take = this.o.mode === 'followup' ? 'one' : 'all';
    let claimed;
    try {
      claimed = await this.store.claim(key, turnId, take, this.o.window.maxMessages ?? 40, this.o.now());
    } catch (err) {
      this.emit('error', err as Error, key);
    }
    if (!claimed || this.state !== 'open') {
      // Nothing waited (collect mode took it already), the claim failed, or we are closing
      // (a claimed turn then stays open in the store and runs again after restart).
      this.busy.delete(key);
      this.active--;
      this.pump();
      this.changed();
      return;
    }
    this.waiting -= claimed.items.length;
    const { fence } = claimed;
    const timer = setTimeout(() => this.expire(key, turnId, fence), this.o.leaseMs);
    this.running.set(key, { turnId, fence, timer });
    const last = claimed.items[claimed.items.length - 1];
    const current: HistoryEntry[] = claimed.items.map((m) => ({
      role: 'user',
      content: m.text,
      ...(m.name ? { name: m.name } : {}),
      ts: m.ts,
    }));
    const turn: Turn = {
      key,
      turnId,
      fence,
      text: claimed.items.map((m) => m.text).join('\n'),
      items: claimed.items,
      history: historyWindow(claimed.history, current, this.o.window),
      context: claimed.context,
      chat: last.chat,
      ...(last.origin ? { origin: last.origin } : {}),
    };
    this.changed();
    this.emit('turn', turn);
  }

  private expire(key: string, turnId: string, fence: number): void {
    this.expiredCount++;
    abortTurn(turnId, `lease of ${this.o.leaseMs} ms expired`);
    this.emit('expired', { key, turnId, leaseMs: this.o.leaseMs });
    this.finishTurn(key, turnId, fence, { status: 'expired' }).catch((err) => this.emit('error', err as Error, key));
  }

  private interrupt(key: string): void {
    const r = this.running.get(key);
    if (!r) return;
    abortTurn(r.turnId, 'interrupted by a newer message');
    this.finishTurn(key, r.turnId, r.fence, { status: 'interrupted' }).catch((err) =>
      this.emit('error', err as Error, key),
    );
  }

  private async finishTurn(
    key: string,
    turnId: string,
    fence: number,
    outcome: { status: TurnStatus; reply?: string; context?: Record<string, unknown> },
  ): Promise<'ended' | 'stale'> {
    const r = this.running.get(key);
    const local = r && r.turnId === turnId && r.fence === fence ? r : undefined;
    // Leave the running map now so that a second end (lease timer vs. session end) sees stale.
    if (local) {
      clearTimeout(local.timer);
      this.running.delete(key);
    }
    let more = true;
    try {
      const res = await this.store.finish(key, turnId, fence, outcome, this.o.now());
      if (res.ok) more = res.sessionWaiting > 0;
      return res.ok ? 'ended' : 'stale';
    } finally {
      if (local) this.release(key, local, more);
    }
  }

  /** Give back the slot of a turn that left the running map. */
  private release(key: string, r: Running, more: boolean): void {
    clearTimeout(r.timer);
    if (this.running.get(key) === r) this.running.delete(key);
    this.busy.delete(key);
    this.active--;
    if (this.state === 'open' && more) this.markReady(key);
    this.pump();
    this.changed();
  }

  private changed(): void {
    this.emit('change', this.stats());
  }

  private emit<E extends keyof GatewayEvents>(event: E, ...args: Parameters<GatewayEvents[E]>): void {
    for (const fn of this.listeners[event]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (err) {
        if (event !== 'error') this.emit('error', err as Error);
      }
    }
  }
}
