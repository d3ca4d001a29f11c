/**
 * One error class for everything that can go wrong talking to a provider, with a `kind`
 * that decides what happens next: the retry loop retries `retryable` kinds, failover moves
 * to the next provider when one fails for good, and `aborted` stops everything. Messages
 * name the provider, the model, the HTTP status and what to fix, and never an API key.
 */

export type LlmErrorKind =
  | 'auth' // 401/403: wrong key or no access; do not retry
  | 'bad_request' // 400/404/422: our request or the model name is wrong; do not retry
  | 'rate_limit' // 429
  | 'overloaded' // 529 (Anthropic), 503
  | 'server' // other 5xx, 408, 409
  | 'network' // connection refused/reset, dropped stream
  | 'timeout' // the request took longer than the config's timeout
  | 'stream' // the provider sent something we could not parse
  | 'aborted' // the turn was aborted (interrupt, redeploy): never retried, never failed over
  | 'tool_limit' // the model kept calling tools past the node's limit
  | 'empty' // the model finished without any text (and no tool call): nothing to send
  | 'config'; // a setting is missing or wrong (unknown provider, no model)

const RETRYABLE: ReadonlySet<LlmErrorKind> = new Set(['rate_limit', 'overloaded', 'server', 'network', 'timeout', 'stream']);

export interface LlmErrorInfo {
  kind: LlmErrorKind;
  provider?: string;
  model?: string;
  status?: number;
  /** From Retry-After / retry-after-ms, when the server sent it. */
  retryAfterMs?: number;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

/** A failure of the LLM layer. `message` is safe to show (no secrets). */
export class LlmError extends Error {
  readonly kind: LlmErrorKind;
  readonly provider?: string;
  readonly model?: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly hint?: string;

  constructor(message: string, info: LlmErrorInfo) {
    super(message);
    this.name = 'LlmError';
    this.kind = info.kind;
    this.provider = info.provider;
    this.model = info.model;
    this.status = info.status;
    this.retryAfterMs = info.retryAfterMs;
    this.hint = info.hint;
    // The cause may carry request headers (with the key) from an SDK: keep it off the
    // enumerable properties so nothing serialises it into msg or logs.
    if (info.cause !== undefined) Object.defineProperty(this, 'cause', { value: info.cause, enumerable: false });
  }

  /** Worth trying the same provider again. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

/** Kind for an HTTP status. */
export function kindForStatus(status: number): LlmErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limit';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408 || status === 409 || status >= 500) return 'server';
  return 'bad_request';
}

const HINTS: Partial<Record<LlmErrorKind, string>> = {
  auth: 'check the API key (and that it may use this model) in the provider config node',
  bad_request: 'check the model name and the node settings (max tokens, tools)',
  rate_limit: 'the provider rate-limits this key: slow down, raise the limit, or add a fallback provider',
  overloaded: 'the provider is overloaded: try later or add a fallback provider',
  server: 'the provider had a server error: try later or add a fallback provider',
  network: 'check the base URL and that the server is reachable',
  timeout: 'raise the timeout in the provider config node or check the server',
  stream: 'the server is not speaking this provider\'s protocol: check the provider type and base URL',
};

/** Parse Retry-After (seconds or HTTP date) and retry-after-ms into milliseconds. */
export function parseRetryAfter(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = get('retry-after');
  if (!ra) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Math.max(0, Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Read a header from a fetch `Headers` or a plain object (SDKs differ). */
export function headerGetter(headers: unknown): (name: string) => string | null | undefined {
  if (headers && typeof (headers as Headers).get === 'function') return (n) => (headers as Headers).get(n);
  if (headers && typeof headers === 'object') {
    const h = headers as Record<string, unknown>;
    return (n) => {
      const v = h[n] ?? h[n.toLowerCase()];
      return v == null ? undefined : String(v);
    };
  }
  return () => undefined;
}

/** Remove anything that looks like a secret from text that came from outside. */
export function redact(text: string, secrets: (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  // Key-like tokens some servers echo back (OpenAI: "Incorrect API key provided: sk-ab***yz").
  return out.replace(/\b(sk|key|ak|api)[-_][A-Za-z0-9_\-*.]{6,}/gi, '[redacted]');
}

export interface ErrorContext {
  provider: string;
  model?: string;
  /** Config node name, for "in config node 'x'" hints. */
  label?: string;
  /** Secrets that must not appear in the message. */
  secrets?: (string | undefined)[];
  /** True when our own timeout fired (so an abort is a timeout, not a user abort). */
  timedOut?: boolean;
  /** True when the turn itself was aborted. */
  turnAborted?: boolean;
}

/** Compose the user-facing message: who, which model, what status, what to fix. */
export function describe(kind: LlmErrorKind, ctx: ErrorContext, status: number | undefined, detail: string): string {
  const who = ctx.label && ctx.label !== ctx.provider ? `${ctx.provider} provider '${ctx.label}'` : `${ctx.provider} provider`;
  const model = ctx.model ? ` (model ${ctx.model})` : '';
  const st = status ? ` ${status}` : '';
  const what = detail ? `: ${redact(detail, ctx.secrets).slice(0, 300)}` : '';
  const hint = HINTS[kind] ? `; ${HINTS[kind]}` : '';
  return `${who}${model} failed (${kind}${st})${what}${hint}`;
}

function errorCode(err: unknown): string | undefined {
  let e: any = err;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause;
  }
  return undefined;
}

/**
 * Turn anything a provider SDK threw into an {@link LlmError}. Understands the shapes of the
 * openai and @anthropic-ai/sdk errors (`status`, `headers`), ollama's `ResponseError`
 * (`status_code`), fetch/undici network errors and our own stream errors.
 */
export function classify(err: unknown, ctx: ErrorContext): LlmError {
  if (err instanceof LlmError) return err;
  const e = (err ?? {}) as any;
  const raw = typeof e.message === 'string' ? e.message : String(err);
  const base = { provider: ctx.provider, model: ctx.model, cause: safeCause(err, ctx.secrets) };
  if (ctx.turnAborted) return new LlmError(`${ctx.provider} request aborted: the turn was cancelled`, { ...base, kind: 'aborted' });
  if (ctx.timedOut) return new LlmError(describe('timeout', ctx, undefined, 'no complete answer within the timeout'), { ...base, kind: 'timeout', hint: HINTS.timeout });
  const status: number | undefined = typeof e.status === 'number' ? e.status : typeof e.status_code === 'number' ? e.status_code : undefined;
  if (status) {
    const kind = kindForStatus(status);
    const retryAfterMs = parseRetryAfter(headerGetter(e.headers));
    const detail = providerDetail(e) ?? raw;
    return new LlmError(describe(kind, ctx, status, detail), { ...base, kind, status, retryAfterMs, hint: HINTS[kind] });
  }
  const event = streamErrorEvent(e);
  if (event) {
    const { kind, status: evStatus } = streamEventKind(event);
    const detail = `the server reported an error in the stream: ${event.type ? `${event.type}: ` : ''}${event.message || '(no message)'}`;
    return new LlmError(describe(kind, ctx, evStatus, detail), { ...base, kind, status: evStatus, hint: HINTS[kind] });
  }
  if (e.name === 'StreamCutError') {
    return new LlmError(describe('network', ctx, undefined, raw), { ...base, kind: 'network', hint: HINTS.network });
  }
  if (e.name === 'StreamFormatError' || e instanceof SyntaxError) {
    return new LlmError(describe('stream', ctx, undefined, raw), { ...base, kind: 'stream', hint: HINTS.stream });
  }
  const code = errorCode(err);
  // openai v6 leaves `name` as 'Error' on its connection errors; the class name still says it.
  const sdkName = typeof e.constructor?.name === 'string' ? e.constructor.name : '';
  if (e.name === 'APIConnectionTimeoutError' || sdkName === 'APIConnectionTimeoutError') return new LlmError(describe('timeout', ctx, undefined, raw), { ...base, kind: 'timeout' });
  if (
    code ||
    e.name === 'APIConnectionError' ||
    sdkName === 'APIConnectionError' ||
    e.name === 'TypeError' ||
    /terminated|fetch failed|socket|network|ECONN|EPIPE|premature|aborted|did not receive done/i.test(raw)
  ) {
    const detail = code ? `${raw} (${code})` : raw;
    return new LlmError(describe('network', ctx, undefined, detail), { ...base, kind: 'network', hint: HINTS.network });
  }
  return new LlmError(describe('stream', ctx, undefined, raw), { ...base, kind: 'stream', hint: HINTS.stream });
}

/**
 * A copy of an SDK error that is safe to keep as `LlmError.cause`: name, message and stack
 * redacted, `status` and `code` kept, everything else (request options with headers, the
 * response) dropped. Loggers that inspect errors print the cause chain, and some servers echo
 * the key in their error text.
 */
function safeCause(err: unknown, secrets: (string | undefined)[] = []): unknown {
  if (!err || typeof err !== 'object') return typeof err === 'string' ? redact(err, secrets) : err;
  const e = err as any;
  const copy = new Error(redact(typeof e.message === 'string' ? e.message : String(err), secrets));
  copy.name = typeof e.name === 'string' ? e.name : 'Error';
  copy.stack = typeof e.stack === 'string' ? redact(e.stack, secrets) : copy.stack;
  const extra = copy as Error & { status?: number; code?: string };
  if (typeof e.status === 'number') extra.status = e.status;
  const code = errorCode(err);
  if (code) extra.code = code;
  return copy;
}

/** The error body's message, if the SDK parsed one (OpenAI/Anthropic: error.error.message). */
function providerDetail(e: any): string | undefined {
  const body = e.error;
  if (body && typeof body === 'object') {
    if (typeof body.message === 'string') return body.message;
    if (body.error && typeof body.error.message === 'string') return body.error.message;
  }
  if (typeof body === 'string') return body;
  return undefined;
}

/** What the server said in an error event of a stream it had started. */
interface StreamEvent {
  type?: string;
  code?: string | number;
  message: string;
}

/**
 * The error event inside a stream, if `e` is one: our {@link StreamErrorEvent} (Ollama), or an
 * SDK `APIError` without an HTTP status that carries the event's body (the openai SDK for a
 * `data: {"error":…}` chunk; @anthropic-ai/sdk for `event: error`, body `{type:'error', error}`).
 */
function streamErrorEvent(e: any): StreamEvent | undefined {
  if (e instanceof StreamErrorEvent) return { type: e.type, code: e.code, message: e.message };
  if (e.status !== undefined && e.status !== null) return undefined;
  const body = e.error;
  if (!body || typeof body !== 'object' || body instanceof Error) return undefined;
  const inner = body.error && typeof body.error === 'object' ? body.error : body;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const type = str(inner.type) ?? (inner === body ? undefined : str(e.type));
  const code = typeof inner.code === 'number' || str(inner.code) ? inner.code : undefined;
  const message = str(inner.message) ?? '';
  if (!type && code === undefined && !message) return undefined;
  return { type, code, message };
}

/**
 * Kind for a stream error event. A numeric code is an HTTP status (OpenAI-compatible servers
 * send `code: 503`); otherwise the error type or code names it. The message decides only
 * between overloaded, rate-limited and a server error (Ollama sends nothing else). Anything
 * unknown is a server error: the server spoke the protocol and said it failed.
 */
function streamEventKind(ev: StreamEvent): { kind: LlmErrorKind; status?: number } {
  if (typeof ev.code === 'number' && ev.code >= 400 && ev.code < 600) return { kind: kindForStatus(ev.code), status: ev.code };
  const name = `${ev.type ?? ''} ${typeof ev.code === 'string' ? ev.code : ''}`.toLowerCase();
  const says = (re: RegExp) => re.test(name);
  if (says(/overload|unavailable|capacity/)) return { kind: 'overloaded' };
  if (says(/rate.?limit|too.?many.?requests/)) return { kind: 'rate_limit' };
  if (says(/auth|permission|api.?key|unauthori[sz]ed|forbidden/)) return { kind: 'auth' };
  if (says(/invalid|bad.?request|not.?found|unprocessable|context.?length/)) return { kind: 'bad_request' };
  const text = ev.message.toLowerCase();
  if (/overload|busy|unavailable|capacity/.test(text)) return { kind: 'overloaded' };
  if (/rate.?limit|too many requests/.test(text)) return { kind: 'rate_limit' };
  return { kind: 'server' };
}

/**
 * The server reported an error inside a stream it had started (a provider that gets it as plain
 * text, like Ollama's `{"error": "..."}` line, wraps it in this). Classified by what it says.
 */
export class StreamErrorEvent extends Error {
  readonly type?: string;
  readonly code?: string | number;
  constructor(message: string, info: { type?: string; code?: string | number } = {}) {
    super(message);
    this.name = 'StreamErrorEvent';
    this.type = info.type;
    this.code = info.code;
  }
}

/** A provider's own "the stream did not make sense" error; classified as `stream`. */
export class StreamFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamFormatError';
  }
}

/**
 * What a stream that ended early means: nothing at all arrived on an answer that is not an event
 * stream (a proxy's login page, a web server at the base URL) is the wrong protocol, not a
 * dropped connection.
 */
export function streamEndError(events: number, contentType: string | null | undefined): Error {
  const ct = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (events === 0 && ct && !/event-stream|ndjson/.test(ct)) {
    return new StreamFormatError(`the server answered with ${ct.slice(0, 60)}, not an event stream`);
  }
  return new StreamCutError();
}

/** The stream ended before the provider said it was finished: a dropped connection. */
export class StreamCutError extends Error {
  constructor(message = 'the stream ended before the answer was complete (connection dropped)') {
    super(message);
    this.name = 'StreamCutError';
  }
}
