/**
 * Shared machinery of the loopback LLM fakes (openai-fake, anthropic-fake, ollama-fake): an
 * HTTP server on 127.0.0.1 with a script of replies, failure injection and a record of what
 * clients sent. Each fake only adds its wire format (how a reply is streamed).
 *
 * Script a reply with {@link ScriptedReply}: text (streamed in pieces), tool calls, or a
 * failure (HTTP status with Retry-After, a connection reset, a malformed stream, a hang).
 */
import http from 'http';
import type { AddressInfo, Socket } from 'net';

export interface ScriptedToolCall {
  id?: string;
  name: string;
  /** A JSON string is sent verbatim (so tests can send bad JSON); an object is encoded. */
  arguments: string | Record<string, unknown>;
}

export interface ScriptedReply {
  /** Answer text; streamed in `pieces` roughly equal parts (default 3). */
  text?: string;
  /** Explicit text pieces (overrides `text` splitting). */
  chunks?: string[];
  pieces?: number;
  toolCalls?: ScriptedToolCall[];
  /** Reasoning text (openai-compatible `reasoning_content`, ollama `thinking`). */
  reasoning?: string;
  usage?: { input: number; output: number };
  /** Provider-native stop/finish reason; a sensible default is chosen. */
  stopReason?: string;
  /** Fail with this HTTP status (and `errorMessage`) instead of answering. */
  status?: number;
  errorMessage?: string;
  /** Retry-After header value in seconds (with `status`). */
  retryAfter?: number;
  /** `before`: destroy the socket before any response; `mid`: after the first chunk. */
  reset?: 'before' | 'mid';
  /** Send a syntactically broken chunk after the first one. */
  malformed?: boolean;
  /**
   * After the first chunk, report an error inside the stream in the provider's own format
   * (Anthropic `event: error`, an OpenAI-style `data: {"error":{...}}` chunk, an Ollama
   * `{"error":"..."}` line) and end the response. `type` is the provider's error type
   * (`overloaded_error`, `rate_limit_exceeded`, `invalid_request_error`); Ollama sends only the message.
   */
  streamError?: { type?: string; message: string; code?: string | number };
  /** Never answer (until the client gives up or the fake closes). */
  hang?: boolean;
  /** Wait this long before the response headers. */
  delayMs?: number;
  /** Wait this long between chunks (and after the last chunk before ending). */
  chunkDelayMs?: number;
}

/** A recorded request. Headers are kept so tests can check the key was sent. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface FakeOptions {
  /** Require this API key (401 otherwise). */
  apiKey?: string;
  /** Models listed by the models endpoint. */
  models?: string[];
  /** Default latency before every response header, ms. */
  latencyMs?: number;
  /** Default pause between chunks, ms. */
  chunkDelayMs?: number;
}

export type ReplyFn = (req: RecordedRequest) => ScriptedReply;

/** Split text into `n` pieces (for streaming). */
export function splitText(text: string, n = 3): string[] {
  if (!text) return [];
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Last user text of a chat request body, for echo replies. */
export function lastUserText(body: any): string {
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      const t = m.content.find((b: any) => b.type === 'text');
      if (t) return t.text;
    }
  }
  return '';
}

export abstract class LlmFake {
  readonly requests: RecordedRequest[] = [];
  /** Requests whose client hung up before the response ended (aborts, timeouts). */
  cancelled = 0;
  /** Replies served in order; when empty, {@link fallback} answers. */
  readonly script: ScriptedReply[] = [];
  /** Answer when the script is empty: echoes the last user text. */
  fallback: ReplyFn = (req) => ({ text: `echo: ${lastUserText(req.body)}` });
  protected readonly opts: FakeOptions;
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private waiters: { n: number; resolve: () => void }[] = [];
  port = 0;

  constructor(opts: FakeOptions = {}) {
    this.opts = opts;
  }

  /** Base URL to give the client (each fake adds its path prefix). */
  abstract get url(): string;

  /** Add replies to the script. */
  enqueue(...replies: ScriptedReply[]): this {
    this.script.push(...replies);
    return this;
  }

  /** Resolve once `n` chat requests have arrived in total. */
  waitForRequests(n: number): Promise<void> {
    if (this.chatRequests().length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Recorded requests to the chat endpoint. */
  chatRequests(): RecordedRequest[] {
    return this.requests.filter((r) => this.isChat(r.path));
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Stop listening and destroy every open connection (hanging ones included). */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  protected abstract isChat(path: string): boolean;
  protected abstract isModels(path: string): boolean;
  /** Write the models list in the native format. */
  protected abstract writeModels(res: http.ServerResponse, models: string[]): void;
  /** Write an error in the native format. */
  protected abstract writeError(res: http.ServerResponse, status: number, message: string, headers: Record<string, string>): void;
  /** Stream a reply in the native format, using {@link pace} between chunks. */
  protected abstract writeReply(res: http.ServerResponse, reply: ScriptedReply, req: RecordedRequest, ctl: StreamControl): Promise<void>;
  /** Whether the request authenticates (native header). */
  protected abstract authorised(headers: http.IncomingHttpHeaders, key: string): boolean;

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const rec: RecordedRequest = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0], headers: req.headers, body };
      this.requests.push(rec);
      void this.respond(rec, res).catch(() => res.destroy());
    });
  }

  private async respond(rec: RecordedRequest, res: http.ServerResponse): Promise<void> {
    if (this.opts.apiKey && !this.authorised(rec.headers, this.opts.apiKey)) {
      return this.writeError(res, 401, 'invalid api key', {});
    }
    if (this.isModels(rec.path)) return this.writeModels(res, this.opts.models ?? ['fake-model']);
    if (!this.isChat(rec.path)) return this.writeError(res, 404, `no route ${rec.path}`, {});
    const reply = this.script.length ? this.script.shift()! : this.fallback(rec);
    this.waiters = this.waiters.filter((w) => (this.chatRequests().length >= w.n ? (w.resolve(), false) : true));
    let finished = false;
    res.on('close', () => {
      if (!finished) this.cancelled++;
    });
    res.on('finish', () => (finished = true));
    const delay = reply.delayMs ?? this.opts.latencyMs ?? 0;
    if (delay) await wait(delay);
    if (reply.hang) return; // the socket stays open until the client aborts or close()
    if (reply.reset === 'before') {
      res.socket?.destroy();
      return;
    }
    if (reply.status) {
      const headers: Record<string, string> = {};
      if (reply.retryAfter !== undefined) headers['retry-after'] = String(reply.retryAfter);
      return this.writeError(res, reply.status, reply.errorMessage ?? `injected ${reply.status}`, headers);
    }
    const gap = reply.chunkDelayMs ?? this.opts.chunkDelayMs ?? 0;
    const ctl: StreamControl = {
      pace: async (index: number) => {
        if (gap) await wait(gap);
        if (res.destroyed) throw new Error('client gone');
        if (index === 1 && reply.reset === 'mid') {
          res.socket?.destroy();
          throw new Error('reset injected');
        }
      },
    };
    try {
      await this.writeReply(res, reply, rec, ctl);
    } catch {
      /* client gone or reset injected */
    }
  }
}

export interface StreamControl {
  /** Call before writing chunk `index` (0-based): waits, and injects a mid-stream reset. */
  pace(index: number): Promise<void>;
}

function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
