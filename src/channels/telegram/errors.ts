/**
 * What a failed Bot API call means for whoever made it. grammY throws a `GrammyError` when the
 * Bot API answered `ok: false` and an `HttpError` when the request never got an answer; the
 * poller and the sender need one more step: which of those failures stop the bot (a bad token,
 * another poller), which wait (429 with `retry_after`), and which are retried with backoff.
 *
 * Every text built here passes {@link redactTokens}: a fetch failure's message holds the request
 * URL, and the URL holds the bot token (`…/bot<token>/getUpdates`). Status texts, log lines,
 * `done(err)` and Catch nodes all get their text from here, so this is the one place to cut it (decision 0230).
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
  /**
   * For `network`: the request was sent and no answer came in time. Telegram may have done it,
   * so a send is not simply repeated (unlike a connection that dropped or was refused).
   */
  timedOut?: boolean;
}

/** Tokens of the live clients, so a text holding one bare (not in a URL) is cleaned too. */
const knownTokens = new Map<string, number>();

/**
 * Make `token` known to {@link redactTokens} while a client uses it; returns the release. Kept
 * in memory only (the client holds it anyway, to call the Bot API).
 */
export function rememberToken(token: string): () => void {
  if (!token) return () => undefined;
  knownTokens.set(token, (knownTokens.get(token) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (knownTokens.get(token) ?? 1) - 1;
    if (n > 0) knownTokens.set(token, n);
    else knownTokens.delete(token);
  };
}

const REDACTED = '<redacted>';
/** `bot<id>:<secret>` as a path segment (the Bot API URL), also percent-encoded. */
const TOKEN_IN_PATH = /bot\d+(?::|%3A)[^/\s?#"'<>]+/gi;
/** A bare token: the bot id, a colon, and a secret of Telegram's alphabet (35 characters today). */
const BARE_TOKEN = /\b\d{3,}(?::|%3A)[A-Za-z0-9_-]{20,}/gi;

/** `text` with every bot token in it (known ones, URL path segments, token-shaped strings) cut out. */
export function redactTokens(text: string): string {
  let out = String(text);
  for (const token of knownTokens.keys()) {
    for (const form of new Set([token, encodeURIComponent(token)])) out = out.split(form).join(REDACTED);
  }
  return out.replace(TOKEN_IN_PATH, `bot${REDACTED}`).replace(BARE_TOKEN, REDACTED);
}

/** Classify anything a grammY call threw. The description never holds a token. */
export function classify(err: unknown): Failure {
  const f = classifyRaw(err);
  f.description = redactTokens(f.description);
  return f;
}

function classifyRaw(err: unknown): Failure {
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
    const description = inner?.message || err.message;
    return { kind: 'network', description, ...(/timed out after/i.test(description) ? { timedOut: true } : {}) };
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
    super(redactTokens(message));
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
