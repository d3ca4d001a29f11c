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
