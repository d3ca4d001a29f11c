/**
 * What went wrong with Discord, as a kind the user can act on. discord.js reports failures in
 * several shapes (a gateway close code, a REST error with a status, a `TokenInvalid` error, a
 * socket error); nodes need one answer to "what should the user do?", so everything is mapped
 * here to a {@link DiscordFailure} whose `kind` picks the translated text.
 */

/**
 * - `token`: Discord rejected the bot token (REST 401, gateway 4004). Retrying cannot help.
 * - `intents`: the app lacks a privileged intent (gateway 4014): enable Message Content.
 * - `permission`: the bot may not do that in this channel (REST 403).
 * - `not-found`: unknown channel or message (REST 404).
 * - `invalid`: Discord refused the request body (REST 400).
 * - `network`: Discord could not be reached (DNS, refused, reset, timeout).
 * - `other`: anything else; `detail` has Discord's own words.
 */
export type DiscordFailureKind = 'token' | 'intents' | 'permission' | 'not-found' | 'invalid' | 'network' | 'other';

export interface DiscordFailure {
  kind: DiscordFailureKind;
  /** HTTP status or gateway close code, when there was one. */
  code?: number;
  /** Discord's (or the library's) message, for the log and the error text. Never the token. */
  detail: string;
  /** True if trying again later can succeed (network trouble, 5xx). */
  retryable: boolean;
}

/** Gateway close codes that mean "stop": 4004 bad token, 4014 privileged intent not enabled. */
export const CLOSE_AUTH_FAILED = 4004;
export const CLOSE_DISALLOWED_INTENTS = 4014;
/** Other close codes after which discord.js gives up (invalid shard, sharding, API version, intents). */
const FATAL_CLOSE_CODES = new Set([4010, 4011, 4012, 4013]);

/** Map a gateway close code that ended the connection for good. */
export function failureFromCloseCode(code: number): DiscordFailure {
  if (code === CLOSE_AUTH_FAILED) return { kind: 'token', code, detail: 'Authentication failed (gateway close 4004)', retryable: false };
  if (code === CLOSE_DISALLOWED_INTENTS) return { kind: 'intents', code, detail: 'Disallowed intents (gateway close 4014)', retryable: false };
  return { kind: 'other', code, detail: `gateway closed with code ${code}`, retryable: !FATAL_CLOSE_CODES.has(code) };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** Map anything discord.js (or its REST layer) threw. */
export function classifyError(err: unknown): DiscordFailure {
  const e = (err ?? {}) as { status?: unknown; code?: unknown; message?: unknown; cause?: unknown; name?: unknown };
  const detail = typeof e.message === 'string' && e.message ? e.message : String(err);
  if (e.code === 'TokenInvalid') return { kind: 'token', code: 401, detail, retryable: false };
  // @discordjs/rest's own words once it has dropped the token (after a 401).
  if (/^Expected token to be set/.test(detail)) return { kind: 'token', code: 401, detail, retryable: false };
  if (typeof e.status === 'number') {
    const status = e.status;
    if (status === 401) return { kind: 'token', code: status, detail, retryable: false };
    if (status === 403) return { kind: 'permission', code: status, detail, retryable: false };
    if (status === 404) return { kind: 'not-found', code: status, detail, retryable: false };
    if (status === 400) return { kind: 'invalid', code: status, detail, retryable: false };
    return { kind: 'other', code: status, detail, retryable: status >= 500 };
  }
  const code = typeof e.code === 'string' ? e.code : (e.cause as { code?: unknown } | undefined)?.code;
  if ((typeof code === 'string' && NETWORK_CODES.has(code)) || e.name === 'AbortError' || /fetch failed|ECONNREFUSED|socket hang up/i.test(detail)) {
    return { kind: 'network', detail: typeof code === 'string' ? `${code}: ${detail}` : detail, retryable: true };
  }
  return { kind: 'other', detail, retryable: true };
}
