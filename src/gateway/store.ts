/**
 * The session store contract. The gateway keeps no state that matters for correctness outside
 * a store: the queue of accepted messages, the per-session lock (the running turn and its
 * fencing token), history and context all live here. So a store shared by several Node-RED
 * instances (Redis: one hash + list per session, Lua scripts for enqueue/claim/finish, the
 * fence as an INCR counter) gives the same guarantees as the embedded file store.
 *
 * Rules every implementation follows:
 * - Every method is async and names the session by key; operations on one key take effect in
 *   the order they were called.
 * - `enqueue` checks both backlog bounds and appends in one atomic step, and resolves only
 *   once the message is durable (for stores that are durable at all).
 * - `claim` is the lock: it returns `null` while the session has a running turn or nothing
 *   waits. It bumps the session's fence.
 * - `finish` and `reset` with a stale turn id / fence change nothing.
 * - A turn that was claimed but never finished when the store was last closed (or the process
 *   died) goes back to the head of its queue at `open`: it runs again. At-least-once.
 */
import type { KeyValueStore } from '../store/kv';
import type { UsageLedger } from './budgets';
import type { CompactionState } from './compaction';
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

/** What `open` found: sessions with messages waiting (including turns to run again). */
export interface OpenResult {
  keys: string[];
  waiting: number;
  /** Turns that were running when the store was last closed; they wait again now. */
  requeued: number;
}

/** How many of the waiting messages one claim takes: `one` (followup) or `all` (collect). */
export type ClaimTake = 'one' | 'all';

export interface SessionStore {
  /** `file`, `memory`, `redis`… for status and logs. */
  readonly kind: string;
  /** Load (or connect) and requeue unfinished turns. Called once before anything else. */
  open(): Promise<OpenResult>;
  /** Journal an accepted message, or refuse it when a bound is reached. */
  enqueue(msg: QueuedMessage, bounds: BacklogBounds): Promise<EnqueueResult>;
  /**
   * Take the session's lock and its next message(s) as a new turn with id `turnId`, or
   * `null` if a turn runs already or nothing waits.
   */
  claim(key: string, turnId: string, take: ClaimTake, historyLimit: number, now: number): Promise<ClaimedTurn | null>;
  /**
   * End a turn: commit its user messages (and the reply, for status `done`) to history and
   * release the lock. Stale (`turnId`/`fence` not the running turn) -> `{ ok: false }`.
   */
  finish(key: string, turnId: string, fence: number, outcome: TurnOutcome, now: number): Promise<FinishResult>;
  /**
   * Forget history and context (the transcript stays on record where the store keeps one),
   * drop the running turn without committing it. Waiting messages stay and run afterwards.
   * Returns the id of the turn that was running, if any.
   */
  reset(key: string, now: number): Promise<{ abortedTurnId?: string }>;
  /** The session, or undefined if it never had a message. */
  session(key: string): Promise<SessionRecord | undefined>;
  /** The whole history since the last reset, oldest first (not just the window). */
  history(key: string): Promise<HistoryEntry[]>;
  /** A key-value namespace in the same store family (pairing approvals and the like). */
  kv(namespace: string): KeyValueStore;
  /**
   * Record that summary `c.text` stands for the first `c.covers` history entries (history
   * compaction, compaction.ts). Returns false and changes nothing when stale: `c.epoch` is
   * not the session's reset count, `covers` is beyond its history, or not beyond the current
   * summary. The memory/file stores journal a `compact` event; a Redis store keeps the summary
   * in the session hash (fields summary, covers; check epoch = resets counter in the script).
   * Optional: without it the gateway truncates the window instead of compacting.
   * `claim` then returns `summary`, `total` and `epoch`, and `session()` `historyCount`,
   * `epoch`, `summary`; `finish` honours `outcome.absorbed` (steer mode: move those waiting
   * messages into history after the turn's own).
   */
  compact?(key: string, c: CompactionState, now: number): Promise<boolean>;
  /**
   * Daily counters for per-sender budgets and token usage (budgets.ts). Optional: without it
   * budgets are off. Memory/file: {@link KvUsageLedger} over `kv('usage')`. Redis: one hash per
   * (subject, period) with HINCRBY for `add` and HSETNX for `once`, EXPIRE 2 days on daily rows.
   */
  usageLedger?(): UsageLedger;
  /** Finish pending writes and release files or connections. Running turns stay unfinished. */
  close(): Promise<void>;
}
