/**
 * Abort signals per turn, shared by the gateway (which decides that a turn must stop:
 * interrupt mode, `/reset`, redeploy) and whatever runs the turn (the llm node, which
 * cancels its HTTP request). Neither knows the other; both know a turn id.
 */

const controllers = new Map<string, AbortController>();

/** The signal for `turnId`, created on first use. */
export function turnSignal(turnId: string): AbortSignal {
  let c = controllers.get(turnId);
  if (!c) {
    c = new AbortController();
    controllers.set(turnId, c);
  }
  return c.signal;
}

/** Abort the turn (no-op if nobody listens yet: a later `turnSignal` call sees it aborted). */
export function abortTurn(turnId: string, reason = 'turn aborted'): void {
  let c = controllers.get(turnId);
  if (!c) {
    c = new AbortController();
    controllers.set(turnId, c);
  }
  if (!c.signal.aborted) c.abort(new Error(reason));
}

/** Forget a finished turn's signal. */
export function releaseTurnSignal(turnId: string): void {
  controllers.delete(turnId);
}

/** Number of live signals (for tests that check nothing leaks). */
export function liveTurnSignals(): number {
  return controllers.size;
}

/**
 * The other direction: whatever runs a turn stopped without finishing it (the llm node closed
 * in a deploy that left the session node running). The gateway still holds the turn's lock;
 * it hands the turn out again once the new flows have started (Gateway.redispatchDropped).
 */
const dropListeners = new Set<(turnId: string) => void>();

/** Listen for dropped turns; returns the function that stops listening. */
export function onTurnDropped(fn: (turnId: string) => void): () => void {
  dropListeners.add(fn);
  return () => dropListeners.delete(fn);
}

/** Say that `turnId` was dropped unfinished (its runner closed). */
export function dropTurn(turnId: string): void {
  for (const fn of dropListeners) fn(turnId);
}
