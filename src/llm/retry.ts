/**
 * Retry one provider call with exponential backoff, honouring the server's Retry-After.
 * Only {@link LlmError.retryable} kinds are retried (408/409/429/5xx, dropped connections,
 * timeouts, garbled streams); 400/401/403 fail at once so a wrong key is reported in one
 * round trip. The wait is cancelled by the turn's signal, so an aborted turn never sleeps.
 */
import { classify, ErrorContext, LlmError } from './errors';

export interface RetryPolicy {
  /** Attempts after the first one. */
  maxRetries: number;
  /** First backoff, doubled each attempt (with jitter). */
  baseDelayMs: number;
  /** Cap for the computed backoff. */
  maxDelayMs: number;
  /** A Retry-After longer than this is treated as "failed for good" (go to the fallback). */
  maxRetryAfterMs: number;
  /**
   * Retries of a request that hit the idle timeout (default: 1). Each one costs a whole timeout
   * (120 s by default): four of them outlasted the session lease (300 s), so the user got the
   * lease's "turn expired" instead of this error, minutes later. A server silent for two whole
   * timeouts is down; the fallback provider (if any) is tried next.
   */
  maxTimeoutRetries?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 20_000, maxRetryAfterMs: 60_000, maxTimeoutRetries: 1 };

/** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The wait before retry number `attempt` (0-based), for an error that may carry Retry-After. */
export function backoffDelay(attempt: number, err: LlmError, policy: RetryPolicy): number {
  if (err.retryAfterMs !== undefined) return err.retryAfterMs;
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/**
 * Run `fn` until it succeeds, fails with a non-retryable error, or runs out of retries.
 * `ctx()` supplies the error context at the time of failure (it knows whether our own
 * timeout fired). `onRetry` is told before each wait (for status and logs).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: {
    policy: RetryPolicy;
    signal: AbortSignal;
    ctx: (err: unknown) => ErrorContext;
    onRetry?: (err: LlmError, attempt: number, delayMs: number) => void;
  },
): Promise<T> {
  let timeouts = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (raw) {
      const err = classify(raw, opts.ctx(raw));
      if (err.kind === 'aborted' || opts.signal.aborted) throw err;
      if (!err.retryable || attempt >= opts.policy.maxRetries) throw err;
      if (err.kind === 'timeout' && ++timeouts > (opts.policy.maxTimeoutRetries ?? 1)) throw err;
      const delay = backoffDelay(attempt, err, opts.policy);
      if (delay > opts.policy.maxRetryAfterMs) throw err;
      opts.onRetry?.(err, attempt + 1, delay);
      try {
        await sleep(delay, opts.signal);
      } catch {
        throw classify(raw, { ...opts.ctx(raw), turnAborted: true });
      }
    }
  }
}
