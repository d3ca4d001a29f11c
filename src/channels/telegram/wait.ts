/**
 * Waiting that a shutdown can cut short. The poller and the sender wait (backoff, 429
 * `retry_after`); a redeploy must not sit out those waits, and no timer may outlive `close`.
 */

/** Resolve after `ms`, or reject with the signal's reason as soon as it aborts. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface BackoffOptions {
  /** First delay. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
}

/** Capped doubling delays with a little jitter, so a dead server is not hammered. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** The next delay; each call doubles the following one, up to the cap. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.attempt);
    this.attempt++;
    return Math.min(this.opts.maxMs, Math.round(base * (1 + Math.random() * 0.1)));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** The AbortSignal type grammY's Node build declares (the `abort-controller` polyfill's). */
export type ApiSignal = Parameters<import('grammy').Api['getMe']>[0];

/**
 * A native AbortSignal as grammY's parameter type. grammY only needs `addEventListener`,
 * which native signals have; its declared type is the polyfill's.
 */
export function apiSignal(signal: AbortSignal): ApiSignal;
export function apiSignal(signal: AbortSignal | undefined): ApiSignal | undefined;
export function apiSignal(signal: AbortSignal | undefined): ApiSignal | undefined {
  return signal as unknown as ApiSignal | undefined;
}
