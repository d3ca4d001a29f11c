/**
 * What a failed Bot API call means for whoever made it. grammY throws a `GrammyError` when the
 * Bot API answered `ok: false` and an `HttpError` when the request never got an answer; the
 * poller and the sender need one more step: which of those failures stop the bot (a bad token,
 * another poller), which wait (429 with `retry_after`), and which are retried with backoff.
 */
import { GrammyError, HttpError } from 'grammy';

export type FailureKind =
  /** 401/404 on the token: nothing will work until the user fixes the token. */
  | 'unauthorized'
  /** 409: another getUpdates poller, or a webhook, holds this token. */
  | 'conflict'
  /** 429: wait `retryAfterMs`, then try again. */
  | 'rate-limited'
  /** 400 and other 4xx: this request is wrong; retrying it unchanged will not help. */
  | 'rejected'
  /** 5xx from the Bot API: its problem, try again later. */
  | 'server'
  /** No answer (connection refused, reset, timeout, bad JSON). */
  | 'network';

export interface Failure {
  kind: FailureKind;
  /** Telegram's error_code, when it answered. */
  code?: number;
  /** Telegram's description, or the network error's message. Never contains the token. */
  description: string;
  /** For `rate-limited`: how long Telegram asked us to wait. */
  retryAfterMs?: number;
  /** For 400 "can't parse entities": the markup was rejected, plain text would pass. */
  badMarkup?: boolean;
  /** For an edit that changed nothing ("message is not modified"): harmless. */
  notModified?: boolean;
}

/** Classify anything a grammY call threw. */
export function classify(err: unknown): Failure {
  if (err instanceof GrammyError) {
    const code = err.error_code;
    const description = err.description || `error ${code}`;
    if (code === 401 || (code === 404 && /not found/i.test(description) && err.method === 'getMe')) {
      return { kind: 'unauthorized', code, description };
    }
    if (code === 409) return { kind: 'conflict', code, description };
    if (code === 429) {
      const seconds = Number(err.parameters?.retry_after);
      return { kind: 'rate-limited', code, description, retryAfterMs: (Number.isFinite(seconds) && seconds >= 0 ? seconds : 1) * 1000 };
    }
    if (code >= 500) return { kind: 'server', code, description };
    return {
      kind: 'rejected',
      code,
      description,
      badMarkup: code === 400 && /can't parse entities|unsupported start tag|can't find end tag|unclosed|unexpected end tag/i.test(description),
      notModified: code === 400 && /message is not modified/i.test(description),
    };
  }
  if (err instanceof HttpError) {
    const inner = err.error as { message?: string } | undefined;
    return { kind: 'network', description: inner?.message || err.message };
  }
  return { kind: 'network', description: (err as Error)?.message ?? String(err) };
}

/**
 * An error with the Telegram description as its message (what `done(err)` and Catch nodes
 * show), and the classification for code that wants to branch on it.
 */
export class TelegramError extends Error {
  constructor(
    message: string,
    readonly failure: Failure,
  ) {
    super(message);
    this.name = 'TelegramError';
  }
}

/** A TelegramError for a failed `method` call, worded for a user. */
export function toTelegramError(method: string, err: unknown): TelegramError {
  if (err instanceof TelegramError) return err;
  const f = classify(err);
  const what = f.code ? `Telegram ${method} failed (${f.code}): ${f.description}` : `Telegram ${method} failed: ${f.description}`;
  return new TelegramError(what, f);
}
