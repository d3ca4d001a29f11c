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
  /** Finish pending writes and release files or connections. Running turns stay unfinished. */
  close(): Promise<void>;
}
