/**
 * Hand-off of an inbound chat message from a channel that can deliver it again (Telegram keeps
 * an update until a later getUpdates confirms it) to the node that makes it safe (the session
 * node, once the gateway journaled it). See docs/decisions/0160-handoff-before-confirming.md.
 *
 * The channel in-node calls {@link expectHandoff} with a fresh id and puts the id on the msg
 * ({@link HANDOFF_PROP}); a clawflow node that ends the message's journey calls
 * {@link handedOff} (stored, answered or deliberately rejected) or {@link cancelHandoff} (it
 * could not take the message: deliver it again). The channel confirms the message to the
 * platform only after the outcome is known. Process-wide, no Node-RED import: the ids travel
 * on msg, so any node in any flow can settle them.
 */
import crypto from 'crypto';

/** How a hand-off ended: `handed` (safe), `timeout` (nobody said; counts as handled), `cancelled` (deliver again). */
export type HandoffOutcome = 'handed' | 'timeout' | 'cancelled';

/**
 * The msg property that carries the hand-off id (a string). Internal: underscore-prefixed like
 * Node-RED's `_msgid`, removed by the node that settles it, not for users to set or read.
 */
export const HANDOFF_PROP = '_clawflowHandoff';

interface Waiting {
  resolve(outcome: HandoffOutcome): void;
  timer: NodeJS.Timeout;
}

const waiting = new Map<string, Waiting>();
let receivers = 0;
/** Receivers released so far: a wait during which one closed may have lost its message there. */
let releases = 0;

/** A new, unguessable hand-off id. */
export function newHandoffId(): string {
  return crypto.randomUUID();
}

/**
 * Wait for the hand-off of `id`: resolves with the first of {@link handedOff},
 * {@link cancelHandoff} or `timeoutMs` passing. Never rejects. Bounded on purpose: a flow that
 * never reaches a node that hands off (no session node on this path) must not stall the channel.
 * A bound reached while a receiver closed (a redeploy) resolves `cancelled`, not `timeout`:
 * Node-RED drops a message that reaches a node after its close without a trace, so the
 * message may have been lost there and is better delivered again (at least once).
 */
export function expectHandoff(id: string, timeoutMs: number): Promise<HandoffOutcome> {
  settle(id, 'cancelled'); // an id reused by mistake: the older waiter is not left hanging
  const releasesAtStart = releases;
  return new Promise<HandoffOutcome>((resolve) => {
    const timer = setTimeout(() => settle(id, releases === releasesAtStart ? 'timeout' : 'cancelled'), Math.max(0, timeoutMs));
    // Never the reason the process stays up: the waiter gives up with the process anyway.
    timer.unref?.();
    waiting.set(id, { resolve, timer });
  });
}

/**
 * The message with hand-off id `id` is safe: stored, answered, or rejected on purpose. Accepts
 * whatever a msg carries (undefined, a foreign value): anything that is not an awaited id is
 * ignored. Returns whether a waiter was settled.
 */
export function handedOff(id: unknown): boolean {
  return settle(id, 'handed');
}

/** The message with hand-off id `id` was not taken (its node is closing): deliver it again. */
export function cancelHandoff(id: unknown): boolean {
  return settle(id, 'cancelled');
}

/** The hand-off id on `msg`, if it carries one. */
export function handoffIdOf(msg: unknown): string | undefined {
  const v = msg && typeof msg === 'object' ? (msg as Record<string, unknown>)[HANDOFF_PROP] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/**
 * A node that will hand messages off (a session node) is deployed: channels wait for
 * hand-offs only while at least one is. Returns the release, to call once on close.
 */
export function acceptHandoffs(): () => void {
  receivers++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    receivers--;
    releases++;
  };
}

/** Whether any node that hands messages off is deployed (else waiting would only add delay). */
export function handoffReceivers(): number {
  return receivers;
}

/** Hand-offs still awaited (tests use it to show nothing is left behind). */
export function pendingHandoffs(): number {
  return waiting.size;
}

function settle(id: unknown, outcome: HandoffOutcome): boolean {
  if (typeof id !== 'string') return false;
  const w = waiting.get(id);
  if (!w) return false;
  waiting.delete(id);
  clearTimeout(w.timer);
  w.resolve(outcome);
  return true;
}
