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
import { describeAttachments, requireEnvelope, EnvelopeError, type ChatEnvelope } from '../envelope';
import { abortTurn, onTurnDropped, releaseTurnSignal } from '../turn-signals';
import { clearSteer, pushSteer } from '../turn-steering';
import { isShared, sessionKey, checkKeyTemplate, type KeyOptions } from './keys';
import { type WindowOptions } from './window';
import { compactedWindow, foldCount, overBudget, runSummarise, uncovered, type CompactionOptions, type CompactionState } from './compaction';
import { groupContextEntry, type GroupMessage } from './group-context';
import { ALL_TIME, budgetSubjects, checkBudget, dayOf, hasBudgets, type BudgetLimits, type BudgetSubjects, type UsageTotals } from './budgets';
import { linkedPerson } from './identity';
import { Debouncer } from './debounce';
import type { OpenResult, SessionStore } from './store';
import { isSharedStore, StoreUnavailableError, type SharedSessionStore, type SharedStoreSignal } from './shared-store';
import { platformIdOf, type ClaimedTurn, type HistoryEntry, type QueuedMessage, type SessionRecord, type TurnStatus } from './types';

/**
 * What happens to a message that arrives while its session is busy:
 * - `followup`: it waits and runs as its own turn, in arrival order.
 * - `collect`: everything that waits is merged into the next single turn.
 * - `interrupt`: the running turn is aborted (its abort signal fires) and the waiting
 *   messages run as the next turn at once.
 * - `steer`: the message is handed to the running turn (turn-steering.ts), which reads it at
 *   its next tool-call boundary; if the turn has none left, it runs as the next turn.
 */
export type QueueMode = 'followup' | 'collect' | 'interrupt' | 'steer';

export const QUEUE_MODES: readonly QueueMode[] = ['followup', 'collect', 'interrupt', 'steer'];

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
  /**
   * Quiet time in ms before a session's waiting messages get their turn; all messages waiting
   * then are merged into that one turn (a burst of quick messages is answered once). Default 0.
   */
  debounceMs?: number;
  /** `/queue followup|collect|steer|interrupt` sets a session's own queue mode. Default false. */
  allowQueueCommand?: boolean;
  /** Summarise old history instead of only truncating it; `/compact` forces it. Off if absent. */
  compaction?: CompactionOptions;
  /** Daily message/token limits per peer and per group (needs a store with a usage ledger). */
  budgets?: BudgetLimits;
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
  /** Set when the history was compacted for this turn: `entries` were folded into the summary. */
  compacted?: { entries: number };
}

/** `unavailable`: a shared store (Redis) cannot be reached; nothing was accepted. */
export type RejectReason = 'busy' | 'session_busy' | 'closed' | 'budget_exceeded' | 'unavailable';

export type SubmitResult =
  | { status: 'accepted'; key: string; id: string; steered?: boolean }
  /** The channel delivered a message again that this session already accepted: nothing to do. */
  | { status: 'duplicate'; key: string }
  /** `notify`: with `budget_exceeded`, true only for the first refusal of the day to this peer. */
  | { status: 'rejected'; key: string; reason: RejectReason; notify?: boolean }
  | { status: 'reset'; key: string }
  | { status: 'queue_mode'; key: string; mode: QueueMode }
  /** `/compact`: `entries` folded (0: nothing to fold); `error` when the summary failed. */
  | { status: 'compacted'; key: string; entries: number; error?: string };

export interface GatewayStats {
  /** Slots in use: turns running plus claims being made. */
  active: number;
  /** Accepted messages not yet in a turn. */
  waiting: number;
  accepted: number;
  rejected: number;
  /** Turns released by the lease timer. */
  expired: number;
  /** Messages a channel delivered again after this session had accepted them (ignored). */
  duplicates: number;
  /** Tokens reported by ended turns since start. */
  tokens: number;
  /** Messages refused over budget without a reply (the one polite reply a day already went). */
  budgetDropped: number;
  /** Set while a shared store (Redis) cannot be reached: why, fit for a status. */
  storeDown?: string;
}

export interface GatewayEvents {
  turn: (turn: Turn) => void;
  /** A lease ran out: the turn was released without a reply. */
  expired: (info: { key: string; turnId: string; leaseMs: number; chat?: ChatEnvelope; origin?: string }) => void;
  /** A compaction ran: `entries` folded into the summary, or `error` (the window was truncated). */
  compaction: (info: { key: string; entries: number; error?: string }) => void;
  /** Something failed outside any caller's reach (a store write in a timer, a listener). */
  error: (err: Error, key?: string) => void;
  /** Counters changed (for status displays). */
  change: (stats: GatewayStats) => void;
}

interface Running {
  turnId: string;
  fence: number;
  timer: NodeJS.Timeout;
  /** Renews the turn's lease in a shared store while it runs. */
  renew?: NodeJS.Timeout;
  chat?: ChatEnvelope;
  origin?: string;
  /** Ids of messages pushed to this turn as steering, in push order. */
  steered: string[];
  /** Budget subjects of the turn's messages (tokens are counted against them). */
  subjects: BudgetSubjects[];
  /** The turn as handed out, to hand it out again if its runner drops it. */
  turn?: Turn;
  /** Its runner closed without ending it (a deploy restarted the llm node). */
  dropped?: boolean;
}

export class Gateway {
  readonly id: string;
  readonly store: SessionStore;
  private readonly o: Required<Omit<GatewayOptions, 'store' | 'id' | 'keys' | 'window' | 'channels' | 'compaction' | 'budgets'>> & {
    keys: KeyOptions;
    window: WindowOptions;
    channels: string[];
    compaction?: CompactionOptions;
    budgets?: BudgetLimits;
  };
  private readonly debouncer: Debouncer | undefined;
  /** Queue modes set by `/queue`, cached from the store's `queue-mode` namespace. */
  private readonly modes = new Map<string, QueueMode>();
  private tokens = 0;
  private budgetDropped = 0;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private opening: Promise<OpenResult> | undefined;
  private readonly listeners: { [E in keyof GatewayEvents]: Set<GatewayEvents[E]> } = {
    turn: new Set(),
    expired: new Set(),
    compaction: new Set(),
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
  private duplicates = 0;
  /** The store when several instances share it (Redis): it signals, and leases need renewing. */
  private readonly shared: SharedSessionStore | undefined;
  private offShared: (() => void) | undefined;
  private offDropped: (() => void) | undefined;
  private storeDown: string | undefined;

  constructor(opts: GatewayOptions) {
    this.store = opts.store;
    this.shared = isSharedStore(opts.store) ? opts.store : undefined;
    this.id = opts.id ?? crypto.randomUUID();
    const positive = (v: number | undefined, d: number, what: string) => {
      if (v === undefined) return d;
      if (!Number.isFinite(v) || v < 1) throw new RangeError(`${what} must be a number of at least 1, got ${v}`);
      return Math.floor(v);
    };
    const mode = opts.mode ?? 'followup';
    if (!QUEUE_MODES.includes(mode)) {
      throw new RangeError(`queue mode must be ${QUEUE_MODES.join(', ')}, got "${mode}"`);
    }
    const debounceMs = opts.debounceMs ?? 0;
    if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new RangeError(`debounce must be 0 or more ms, got ${debounceMs}`);
    if (opts.compaction && typeof opts.compaction.summarise !== 'function') throw new TypeError('compaction.summarise must be a function');
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
      debounceMs,
      allowQueueCommand: !!opts.allowQueueCommand,
      ...(opts.compaction ? { compaction: opts.compaction } : {}),
      ...(hasBudgets(opts.budgets) ? { budgets: opts.budgets } : {}),
    };
    this.debouncer = debounceMs > 0 ? new Debouncer(debounceMs) : undefined;
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
      if (this.shared) this.offShared = this.shared.onSignal((s) => this.onShared(s));
      this.offDropped = onTurnDropped((turnId) => this.dropped(turnId));
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
  async submit(chatIn: unknown, text?: string, meta: { origin?: string; groupContext?: GroupMessage[] } = {}): Promise<SubmitResult> {
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
    const body = turnText(chat, typeof text === 'string' ? text : chat.text);
    if (this.isReset(chat, body)) {
      await this.reset(key);
      return { status: 'reset', key };
    }
    const cmd = this.command(chat, body);
    if (cmd?.name === 'queue' && this.o.allowQueueCommand && QUEUE_MODES.includes(cmd.arg as QueueMode)) {
      const mode = cmd.arg as QueueMode;
      await this.store.kv('queue-mode').set(key, mode);
      this.modes.set(key, mode);
      return { status: 'queue_mode', key, mode };
    }
    if (cmd?.name === 'compact' && this.o.compaction) return this.compactNow(key);
    const now = this.o.now();
    const subjects = budgetSubjects(chat, linkedPerson(chat, this.o.keys.links));
    const ledger = this.o.budgets ? this.store.usageLedger?.() : undefined;
    if (ledger && this.o.budgets) {
      const day = dayOf(now);
      const b = await checkBudget(ledger, subjects, this.o.budgets, day);
      if (!b.ok) {
        const notify = await ledger.once(subjects.peer, day, 'budget-notified');
        if (!notify) this.budgetDropped++;
        this.rejected++;
        this.changed();
        return { status: 'rejected', key, reason: 'budget_exceeded', notify };
      }
    }
    const msg: QueuedMessage = {
      id: crypto.randomUUID(),
      key,
      text: body,
      chat,
      ts: now,
      ...(isShared(chat, this.o.keys) ? { name: chat.senderName || chat.senderId } : {}),
      ...(meta.origin ? { origin: meta.origin } : {}),
      ...(meta.groupContext?.length ? { groupContext: meta.groupContext } : {}),
    };
    const platformId = platformIdOf(chat);
    if (platformId) msg.platformId = platformId;
    let r;
    try {
      r = await this.store.enqueue(msg, {
        maxWaiting: this.o.maxWaiting,
        maxWaitingPerSession: this.o.maxWaitingPerSession,
      });
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      this.storeDown = err.message;
      return this.reject(key, 'unavailable');
    }
    if (!r.accepted) {
      if (r.reason !== 'duplicate') return this.reject(key, r.reason);
      this.duplicates++;
      this.changed();
      return { status: 'duplicate', key };
    }
    this.accepted++;
    this.waiting++;
    if (ledger) {
      const day = dayOf(now);
      for (const s of [subjects.peer, subjects.group]) if (s) await ledger.add(s, day, { messages: 1 });
    }
    const mode = await this.modeOf(key);
    let steered = false;
    if (mode === 'interrupt') this.interrupt(key);
    if (mode === 'steer') {
      const running = this.running.get(key);
      if (running) {
        // Journaled like any message: if the turn never reads it, it runs as the next turn.
        pushSteer(running.turnId, msg.name ? `${msg.name}: ${body}` : body);
        running.steered.push(msg.id);
        steered = true;
      }
    }
    if (this.state === 'open') {
      if (this.debouncer) this.debouncer.hold(key, () => this.afterQuiet(key));
      else this.markReady(key);
      this.pump();
    }
    this.changed();
    return { status: 'accepted', key, id: msg.id, ...(steered ? { steered } : {}) };
  }

  /**
   * Fold the session's older history into its summary now (what `/compact` does), keeping the
   * last turns verbatim. Never throws for a failed summary: the result carries the error.
   */
  async compactNow(key: string): Promise<SubmitResult & { status: 'compacted' }> {
    const c = this.o.compaction;
    if (!c) return { status: 'compacted', key, entries: 0, error: 'compaction is not configured' };
    const rec = await this.store.session(key);
    if (!rec) return { status: 'compacted', key, entries: 0 };
    const full = await this.store.history(key);
    const covers = rec.summary && rec.summary.epoch === (rec.epoch ?? 0) ? rec.summary.covers : 0;
    try {
      const folded = await this.fold(key, full.slice(covers), covers, rec.epoch ?? 0, rec.summary?.text);
      return { status: 'compacted', key, entries: folded?.entries ?? 0 };
    } catch (err) {
      return { status: 'compacted', key, entries: 0, error: (err as Error).message };
    }
  }

  /** Token totals of a session since it was created (kept across resets). */
  async sessionUsage(key: string): Promise<UsageTotals | undefined> {
    return this.store.usageLedger?.().get(`session:${key}`, ALL_TIME);
  }

  /**
   * Summarise `entries` (the uncovered history, starting at absolute index `covers`) but the
   * last `keepTurns` turns, and store the summary. Undefined when there is nothing to fold.
   */
  private async fold(
    key: string,
    entries: HistoryEntry[],
    covers: number,
    epoch: number,
    previous: string | undefined,
  ): Promise<{ state: CompactionState; rest: HistoryEntry[]; entries: number } | undefined> {
    const c = this.o.compaction!;
    const n = foldCount(entries, c.keepTurns ?? 4);
    if (n <= 0) return undefined;
    try {
      if (!this.store.compact) throw new Error(`the ${this.store.kind} session store cannot keep a summary`);
      const text = await runSummarise(c, entries.slice(0, n), previous);
      const state: CompactionState = { text, covers: covers + n, epoch };
      if (!(await this.store.compact(key, state, this.o.now()))) throw new Error('the session was reset or compacted meanwhile');
      this.emit('compaction', { key, entries: n });
      return { state, rest: entries.slice(n), entries: n };
    } catch (err) {
      this.emit('compaction', { key, entries: 0, error: (err as Error).message });
      throw err;
    }
  }

  /** The queue mode of a session: its own (`/queue`) or the gateway's. */
  private async modeOf(key: string): Promise<QueueMode> {
    if (!this.o.allowQueueCommand) return this.o.mode;
    let m = this.modes.get(key);
    if (!m) {
      const stored = await this.store.kv('queue-mode').get<string>(key).catch(() => undefined);
      m = QUEUE_MODES.includes(stored as QueueMode) ? (stored as QueueMode) : this.o.mode;
      this.modes.set(key, m);
    }
    return m;
  }

  private afterQuiet(key: string): void {
    if (this.state !== 'open') return;
    this.markReady(key);
    this.pump();
  }

  /** A `/word arg` command in `text` (or the envelope's parsed command). */
  private command(chat: ChatEnvelope, text: string): { name: string; arg: string } | undefined {
    if (chat.command) return { name: chat.command.name.toLowerCase(), arg: (chat.command.args ?? '').trim().toLowerCase() };
    const m = /^\/([^\s@]+)(?:@\S+)?(?:\s+(\S+))?\s*$/.exec(text.trim());
    return m ? { name: m[1].toLowerCase(), arg: (m[2] ?? '').toLowerCase() } : undefined;
  }

  /**
   * Close a turn: append the reply (or, with `error`, nothing) to history, release the
   * session's lock and the slot. `stale` when the turn is no longer the session's running turn
   * (its lease expired, it was interrupted or reset, or it ran before a restart): nothing
   * changes then, so a late end never appends twice or frees someone else's turn.
   */
  async endTurn(
    ref: { key: string; turnId: string; fence: number },
    outcome: { reply?: string; error?: unknown; context?: Record<string, unknown>; usage?: unknown } = {},
  ): Promise<'ended' | 'stale'> {
    releaseTurnSignal(ref.turnId);
    if (this.state === 'closed') return 'stale';
    await this.countUsage(ref, outcome.usage);
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

  /**
   * Add a turn's token usage (`msg.usage` of the llm: inputTokens/outputTokens) to the session
   * total and, while the turn is still this gateway's, to its senders' daily budgets.
   * Counting errors are reported, never thrown: a reply must not be lost over a counter.
   */
  private async countUsage(ref: { key: string; turnId: string }, usage: unknown): Promise<void> {
    const u = usage as { inputTokens?: unknown; outputTokens?: unknown } | undefined;
    const inputTokens = typeof u?.inputTokens === 'number' && u.inputTokens > 0 ? u.inputTokens : 0;
    const outputTokens = typeof u?.outputTokens === 'number' && u.outputTokens > 0 ? u.outputTokens : 0;
    if (!inputTokens && !outputTokens) return;
    this.tokens += inputTokens + outputTokens;
    const ledger = this.store.usageLedger?.();
    if (!ledger) return;
    try {
      await ledger.add(`session:${ref.key}`, ALL_TIME, { inputTokens, outputTokens });
      const r = this.running.get(ref.key);
      if (this.o.budgets && r && r.turnId === ref.turnId) {
        const day = dayOf(this.o.now());
        const subjects = new Set(r.subjects.flatMap((s) => [s.peer, ...(s.group ? [s.group] : [])]));
        for (const s of subjects) await ledger.add(s, day, { inputTokens, outputTokens });
      }
    } catch (err) {
      this.emit('error', err as Error, ref.key);
    }
  }

  stats(): GatewayStats {
    return {
      active: this.active,
      waiting: Math.max(0, this.waiting),
      accepted: this.accepted,
      rejected: this.rejected,
      expired: this.expiredCount,
      duplicates: this.duplicates,
      tokens: this.tokens,
      budgetDropped: this.budgetDropped,
      ...(this.storeDown ? { storeDown: this.storeDown } : {}),
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
    this.debouncer?.clear();
    this.offShared?.();
    this.offDropped?.();
    for (const r of this.running.values()) {
      clearTimeout(r.timer);
      clearInterval(r.renew);
      clearSteer(r.turnId);
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
    if (this.busy.has(key) || this.readySet.has(key) || this.debouncer?.holding(key)) return;
    this.readySet.add(key);
    this.ready.push(key);
  }

  /** Hand free slots to ready sessions, oldest first. */
  private pump(): void {
    while (this.state === 'open' && this.active < this.o.concurrency && this.ready.length && !this.shared?.full) {
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
    let claimed;
    try {
      // With a debounce, everything that waited through the quiet time is one turn.
      const take = (await this.modeOf(key)) === 'followup' && !this.debouncer ? 'one' : 'all';
      claimed = await this.store.claim(key, turnId, take, this.o.window.maxMessages ?? 40, this.o.now());
    } catch (err) {
      if (err instanceof StoreUnavailableError) this.storeDown = err.message;
      else this.emit('error', err as Error, key);
    }
    if (!claimed && this.shared?.full && this.state === 'open' && !this.readySet.has(key)) {
      // Every cluster-wide slot is taken: keep the key first in line for the store's next signal.
      this.readySet.add(key);
      this.ready.unshift(key);
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
    const renew = this.shared ? setInterval(() => this.renewLease(key, turnId, fence), this.shared.renewEveryMs) : undefined;
    const last = claimed.items[claimed.items.length - 1];
    this.running.set(key, {
      turnId,
      fence,
      timer,
      ...(renew ? { renew } : {}),
      chat: last.chat,
      ...(last.origin ? { origin: last.origin } : {}),
      steered: [],
      subjects: claimed.items.map((m) => budgetSubjects(m.chat, linkedPerson(m.chat, this.o.keys.links))),
    });
    const current: HistoryEntry[] = claimed.items.flatMap((m) => {
      const ctx = groupContextEntry(m.groupContext);
      const own: HistoryEntry = { role: 'user', content: m.text, ...(m.name ? { name: m.name } : {}), ts: m.ts };
      return ctx ? [ctx, own] : [own];
    });
    const { history, compacted } = await this.windowOf(key, claimed, current);
    if (this.running.get(key)?.turnId !== turnId) return; // reset, expired or closed while summarising
    const turn: Turn = {
      key,
      turnId,
      fence,
      text: claimed.items.map((m) => m.text).join('\n'),
      items: claimed.items,
      history,
      context: claimed.context,
      chat: last.chat,
      ...(last.origin ? { origin: last.origin } : {}),
      ...(compacted ? { compacted } : {}),
    };
    const r = this.running.get(key);
    if (r) r.turn = turn;
    this.changed();
    this.emit('turn', turn);
  }

  /** A runner closed without ending `turnId`: remember it for {@link redispatchDropped}. */
  private dropped(turnId: string): void {
    for (const r of this.running.values()) if (r.turnId === turnId) r.dropped = true;
  }

  /**
   * Hand out again every turn whose runner dropped it, with a fresh abort signal and a fresh
   * lease: a deploy that restarted the llm node but not the session node left the turn holding
   * the session's lock with nobody working on it, and the user waited for the whole lease (5
   * minutes) for a "took too long" reply. Call it once the new flows run. Returns how many.
   */
  redispatchDropped(): number {
    if (this.state !== 'open') return 0;
    let n = 0;
    for (const [key, r] of this.running) {
      if (!r.dropped || !r.turn) continue;
      r.dropped = false;
      releaseTurnSignal(r.turnId);
      clearTimeout(r.timer);
      r.timer = setTimeout(() => this.expire(key, r.turnId, r.fence), this.o.leaseMs);
      n++;
      this.emit('turn', r.turn);
    }
    return n;
  }

  /**
   * The window of a claimed turn: summary (if any) + uncovered history + the turn's entries.
   * Compacts first when that does not fit; a failed compaction truncates (already reported
   * through the `compaction` event), it never loses the turn.
   */
  private async windowOf(
    key: string,
    claimed: ClaimedTurn,
    current: HistoryEntry[],
  ): Promise<{ history: HistoryEntry[]; compacted?: { entries: number } }> {
    const epoch = claimed.epoch ?? 0;
    const total = claimed.total ?? claimed.history.length;
    const summary = claimed.summary && claimed.summary.epoch === epoch ? claimed.summary : undefined;
    const covers = summary?.covers ?? 0;
    const rest = uncovered(claimed.history, total, covers);
    if (this.o.compaction && overBudget(rest, current, summary?.text, this.o.window)) {
      try {
        // The claim holds the newest entries only; read the rest of the uncovered part if needed.
        const entries = total - claimed.history.length <= covers ? rest : (await this.store.history(key)).slice(covers);
        const f = await this.fold(key, entries, covers, epoch, summary?.text);
        if (f) return { history: compactedWindow(f.state.text, f.rest, current, this.o.window), compacted: { entries: f.entries } };
      } catch {
        /* reported by fold(); fall through to truncation */
      }
    }
    return { history: compactedWindow(summary?.text, rest, current, this.o.window) };
  }

  private expire(key: string, turnId: string, fence: number): void {
    this.expiredCount++;
    abortTurn(turnId, `lease of ${this.o.leaseMs} ms expired`);
    const r = this.running.get(key);
    const where = r && r.turnId === turnId ? { ...(r.chat ? { chat: r.chat } : {}), ...(r.origin ? { origin: r.origin } : {}) } : {};
    this.emit('expired', { key, turnId, leaseMs: this.o.leaseMs, ...where });
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
      clearInterval(local.renew);
      this.running.delete(key);
    }
    // Steering the turn read is committed with it; the rest stays queued and runs next.
    const taken = clearSteer(turnId);
    const absorbed = local ? local.steered.slice(0, taken) : [];
    if (absorbed.length) this.waiting -= absorbed.length;
    let more = true;
    try {
      const res = await this.store.finish(key, turnId, fence, { ...outcome, ...(absorbed.length ? { absorbed } : {}) }, this.o.now());
      if (res.ok) more = res.sessionWaiting > 0;
      return res.ok ? 'ended' : 'stale';
    } finally {
      if (local) this.release(key, local, more);
    }
  }

  /** Give back the slot of a turn that left the running map. */
  private release(key: string, r: Running, more: boolean): void {
    clearTimeout(r.timer);
    clearInterval(r.renew);
    if (this.running.get(key) === r) this.running.delete(key);
    this.busy.delete(key);
    this.active--;
    if (this.state === 'open' && more) this.markReady(key);
    this.pump();
    this.changed();
  }

  /** Keep a running turn's lease in the shared store alive; a refused renewal means it was taken over. */
  private renewLease(key: string, turnId: string, fence: number): void {
    this.shared!.renew(key, turnId, fence).then(
      (ok) => {
        if (!ok) this.onShared({ type: 'lost', key, turnId });
      },
      () => undefined, // unreachable: the connection signal says so; the lease may lapse
    );
  }

  /** Hints from a shared store: runnable sessions, a turn taken over, the connection state. */
  private onShared(s: SharedStoreSignal): void {
    if (this.state === 'closed') return;
    if (s.type === 'connection') {
      this.storeDown = s.state === 'down' ? s.message ?? 'store unreachable' : undefined;
    } else if (s.type === 'lost') {
      const r = this.running.get(s.key);
      if (!r || r.turnId !== s.turnId) return;
      clearSteer(r.turnId);
      abortTurn(r.turnId, 'the turn was taken over by another instance (its lease lapsed)');
      this.release(s.key, r, false);
      return;
    } else {
      if (this.state !== 'open') return;
      this.storeDown = undefined;
      this.waiting = s.waiting;
      for (const k of s.keys) this.markReady(k);
      this.pump();
    }
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

/**
 * The user's words for the history: the text, or for a message that is only media (a sticker,
 * a photo without caption) what it carries, since a model cannot answer an empty message (and
 * some providers refuse one).
 */
function turnText(chat: ChatEnvelope, text: string): string {
  if (text.trim()) return text;
  const media = describeAttachments(chat.attachments);
  if (media) return media;
  throw new EnvelopeError('the message has no text (msg.payload and msg.chat.text are empty) and no attachments: there is nothing to answer');
}
