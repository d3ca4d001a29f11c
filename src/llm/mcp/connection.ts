/**
 * One long-lived connection to one MCP server: connect, list tools, call tools with a timeout,
 * notice a lost server and reconnect with capped backoff, and close without leaving a child
 * process, a session or a timer behind.
 *
 * State is one value ({@link McpState}); every change is emitted as `state`. Tool calls never
 * throw: an MCP error result, a timeout, a cancel or a lost server all come back as a
 * {@link ToolResult} with `isError: true`, so a model turn goes on and Node-RED never crashes.
 */
import { EventEmitter } from 'events';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ToolResult } from '../tool-types';
import { Backoff, type BackoffOptions } from './backoff';
import { McpConfigError, validateTransportConfig, type McpTransportConfig } from './config';
import { modelToolName } from './names';
import { redact } from './redact';
import { errorResult, toToolResult } from './result';
import { buildTransport, type BuiltTransport } from './transport';

export type McpState = 'connecting' | 'ready' | 'reconnecting' | 'stopped' | 'failed';

/** A tool as the server lists it, plus the model-safe name it is offered under. */
export interface McpToolInfo {
  /** Name the model sees (`^[a-zA-Z0-9_-]{1,64}$`). Usually the same as `mcpName`. */
  name: string;
  /** Name on the server. */
  mcpName: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** A copy of one call and its result, for an audit output. */
export interface McpCallRecord {
  server: string;
  tool: string;
  mcpName: string;
  args: Record<string, unknown>;
  result: ToolResult;
  ms: number;
}

export interface McpConnectionOptions {
  /** Shown in status, messages and as the tool source (`mcp:<name>`). */
  name: string;
  backoff?: BackoffOptions;
  /** Health check while idle, to notice a remote server that went away. 0 = off. Default 30 s. */
  pingIntervalMs?: number;
  /** Limit for connect + initialize + list tools. Default 30 s. */
  connectTimeoutMs?: number;
  /** Values hidden from every message this connection produces (env / header secrets). */
  secrets?: string[];
  /**
   * How long a tool call waits for a server that is down (reconnecting) before it answers
   * "unreachable", at most its own timeout. Default 8 s: the model and the user hear about a
   * dead server quickly instead of after the whole tool timeout.
   */
  callReconnectWaitMs?: number;
}

export interface McpCallOptions {
  signal?: AbortSignal;
  /** The whole call, including waiting for a reconnect, must settle within this. */
  timeoutMs: number;
}

/** The server refused our credentials: retrying with the same ones cannot help. */
export class McpAuthError extends Error {
  override name = 'McpAuthError';
}

const CLIENT_INFO = { name: 'clawflow', version: '0.1.0' };
/** How long `close` waits for an HTTP session DELETE before giving up on it. */
const TERMINATE_WAIT_MS = 2000;
/** How much of a crashed child's stderr goes into its error message. */
const STDERR_IN_MESSAGE = 300;

export class McpConnection extends EventEmitter {
  readonly name: string;
  private readonly config: McpTransportConfig | null;
  private readonly configError: string | null;
  private readonly backoff: Backoff;
  private readonly pingIntervalMs: number;
  private readonly connectTimeoutMs: number;
  private readonly secrets: string[];
  private readonly callReconnectWaitMs: number;

  private _state: McpState = 'stopped';
  private _error: string | null = null;
  private _tools: McpToolInfo[] = [];
  private client: Client | null = null;
  private built: BuiltTransport | null = null;
  /** Bumped on every attempt and on close: callbacks of an older attempt do nothing. */
  private generation = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private readyAt = 0;
  private closed = false;
  private probing = false;

  /**
   * @param config a raw transport config; it is validated here, and an invalid one leaves the
   *   connection `failed` with the reason (no retries) once started.
   */
  constructor(config: unknown, opts: McpConnectionOptions) {
    super();
    this.name = opts.name;
    this.secrets = (opts.secrets ?? []).filter(Boolean);
    this.backoff = new Backoff(opts.backoff);
    this.pingIntervalMs = opts.pingIntervalMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
    this.callReconnectWaitMs = opts.callReconnectWaitMs ?? 8_000;
    let cfg: McpTransportConfig | null = null;
    let cfgErr: string | null = null;
    try {
      cfg = validateTransportConfig(config);
    } catch (err) {
      cfgErr = this.clean(err);
    }
    this.config = cfg;
    this.configError = cfgErr;
  }

  get state(): McpState {
    return this._state;
  }

  /** Why the connection is not ready (null when ready or never tried). */
  get error(): string | null {
    return this._error;
  }

  /** The tools known now. Kept while reconnecting, so the model's tool list stays stable. */
  get tools(): McpToolInfo[] {
    return this._tools;
  }

  /** The stdio child's pid while one runs. */
  get pid(): number | null {
    return this.built?.pid() ?? null;
  }

  /**
   * Resolve once the first connect has settled: right away unless the state is `connecting`
   * (the first attempt, no tools known yet), else when it turns ready, fails, stops or goes on
   * to retry, or after `timeoutMs` (default: the connect timeout), or when `signal` aborts.
   * Resolves to whether tools are known then. Never rejects; leaves no timer or listener.
   *
   * A turn that starts right after a deploy waits on this, so that a slow server (an `npx`
   * stdio server takes seconds) does not leave the model with no tools at all.
   */
  whenToolsKnown(timeoutMs: number = this.connectTimeoutMs, signal?: AbortSignal): Promise<boolean> {
    const known = () => this._state === 'ready' || this._tools.length > 0;
    if (this._state !== 'connecting' || signal?.aborted || timeoutMs <= 0) return Promise.resolve(known());
    return new Promise<boolean>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.off('state', onState);
        signal?.removeEventListener('abort', finish);
        resolve(known());
      };
      const onState = (state: McpState) => {
        if (state !== 'connecting') finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.on('state', onState);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Begin connecting (once). Never throws; watch `state` events. */
  start(): void {
    if (this.closed || this._state !== 'stopped') return;
    if (!this.config) {
      this.setState('failed', this.configError);
      return;
    }
    this.setState('connecting', null);
    void this.attempt();
  }

  /**
   * Call a tool by its model name (or its server name). Waits for a reconnect if one is under
   * way, within the same timeout. Always resolves.
   */
  async callTool(name: string, args: Record<string, unknown>, opts: McpCallOptions): Promise<ToolResult> {
    const started = Date.now();
    const tool = this._tools.find((t) => t.name === name) ?? this._tools.find((t) => t.mcpName === name);
    const mcpName = tool?.mcpName ?? name;
    const result = await this.runCall(mcpName, args ?? {}, opts, started);
    const record: McpCallRecord = { server: this.name, tool: tool?.name ?? name, mcpName, args, result, ms: Date.now() - started };
    this.emit('call', record);
    return result;
  }

  /**
   * Stop for good: cancel retries and pings, end the HTTP session (DELETE), close the client
   * (which ends the child's stdin, then SIGTERM, then SIGKILL), and wait for that.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    this.clearTimers();
    this._tools = [];
    this.setState('stopped', null);
    await this.dropClient(true);
    this.removeAllListeners();
  }

  // ---- connecting -------------------------------------------------------------------------

  private async attempt(): Promise<void> {
    const gen = ++this.generation;
    const built = buildTransport(this.config!);
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    this.built = built;
    this.client = client;
    client.onclose = () => this.lost(gen, 'the connection closed');
    // Transport errors (a failed SSE GET, a broken pipe) are recorded; a close or a failed
    // request is what makes us reconnect.
    client.onerror = (err) => {
      if (gen !== this.generation) return;
      if (this._state !== 'ready') this._error = this.clean(err);
      // A broken HTTP event stream says nothing certain; a ping tells whether the server is there.
      else this.probe(gen);
    };
    try {
      await client.connect(built.transport, { timeout: this.connectTimeoutMs });
      const tools = await this.fetchTools(client);
      if (gen !== this.generation) return; // closed meanwhile; close() drops the client
      this._tools = tools;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        void this.refreshTools(gen);
      });
      this.readyAt = Date.now();
      this.setState('ready', null);
      this.emit('tools', this._tools);
      this.schedulePing(gen);
    } catch (err) {
      if (gen !== this.generation) return;
      const reason = this.describeConnectError(err, built);
      await this.dropClient(false);
      if (gen !== this.generation) return;
      if (err instanceof McpAuthError || isAuthFailure(err)) {
        this._tools = [];
        this.setState('failed', reason);
      } else {
        this.scheduleRetry(reason);
      }
    }
  }

  private async fetchTools(client: Client): Promise<McpToolInfo[]> {
    const taken = new Set<string>();
    const out: McpToolInfo[] = [];
    let cursor: string | undefined;
    // Paginated: follow nextCursor, with a bound in case a server loops.
    for (let page = 0; page < 100; page++) {
      const res = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.connectTimeoutMs });
      for (const t of res.tools) {
        out.push({
          name: modelToolName(t.name, taken),
          mcpName: t.name,
          description: t.description ?? t.title ?? '',
          inputSchema: (t.inputSchema as Record<string, unknown>) ?? { type: 'object', properties: {} },
        });
      }
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  private async refreshTools(gen: number): Promise<void> {
    const client = this.client;
    if (!client || gen !== this.generation || this._state !== 'ready') return;
    try {
      const tools = await this.fetchTools(client);
      if (gen !== this.generation) return;
      this._tools = tools;
      this.emit('tools', tools);
    } catch (err) {
      this.lost(gen, this.clean(err));
    }
  }

  /** The server went away (child exited, session gone, ping failed): reconnect. */
  private lost(gen: number, reason: string): void {
    if (gen !== this.generation || this.closed || this._state !== 'ready') return;
    this.generation++;
    this.clearTimers();
    // A stdio child that died: how it ended and its last words, short and without secrets.
    const exit = this.built?.exitInfo();
    const tail = this.built?.stderrTail();
    let why = exit ? `${reason} (${exit})` : reason;
    if (tail) why = `${why}: ${this.clean(tail).slice(0, STDERR_IN_MESSAGE)}`;
    // A connection that held for a while starts the backoff over; one that flaps keeps growing.
    if (Date.now() - this.readyAt >= this.backoff.maxMs) this.backoff.reset();
    void this.dropClient(false).then(() => {
      if (!this.closed) this.scheduleRetry(why);
    });
  }

  private scheduleRetry(reason: string): void {
    if (this.closed) return;
    const delay = this.backoff.next();
    this.setState('reconnecting', reason);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) void this.attempt();
    }, delay);
  }

  private schedulePing(gen: number): void {
    if (!this.pingIntervalMs) return;
    this.pingTimer = setTimeout(async () => {
      this.pingTimer = null;
      const client = this.client;
      if (!client || gen !== this.generation) return;
      try {
        await client.ping({ timeout: Math.min(this.pingIntervalMs, 10_000) });
        if (gen === this.generation) this.schedulePing(gen);
      } catch (err) {
        this.lost(gen, `the server stopped answering (${this.clean(err)})`);
      }
    }, this.pingIntervalMs);
  }

  /** Ping now (at most one at a time); a failure means the server is gone. */
  private probe(gen: number): void {
    const client = this.client;
    if (!client || this.probing) return;
    this.probing = true;
    client
      .ping({ timeout: 10_000 })
      .catch((err) => this.lost(gen, `the server stopped answering (${this.clean(err)})`))
      .finally(() => {
        this.probing = false;
      });
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }

  /** Close the current client and transport; with `terminate`, end the HTTP session first. */
  private async dropClient(terminate: boolean): Promise<void> {
    const client = this.client;
    const built = this.built;
    this.client = null;
    this.built = null;
    if (!client || !built) return;
    client.onclose = undefined;
    client.onerror = undefined;
    if (terminate) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        built.terminate(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, TERMINATE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    try {
      await client.close();
    } catch {
      // Closing a half-open transport can fail; the process/session is gone either way.
    }
    built.dispose();
  }

  // ---- calling ----------------------------------------------------------------------------

  private async runCall(mcpName: string, args: Record<string, unknown>, opts: McpCallOptions, started: number): Promise<ToolResult> {
    const label = `MCP tool "${mcpName}" on server "${this.name}"`;
    if (opts.signal?.aborted) return errorResult(`${label} was cancelled before it started`);
    try {
      await this.whenReady(opts, started);
    } catch (err) {
      return errorResult(`${label} could not run: ${(err as Error).message}`);
    }
    const client = this.client!;
    const gen = this.generation;
    if (!this._tools.some((t) => t.mcpName === mcpName)) {
      return errorResult(`${label} does not exist (the server lists: ${this._tools.map((t) => t.name).join(', ') || 'no tools'})`);
    }
    const remaining = Math.max(1, opts.timeoutMs - (Date.now() - started));
    try {
      const res = await client.callTool({ name: mcpName, arguments: args }, undefined, {
        signal: opts.signal,
        timeout: remaining,
        maxTotalTimeout: remaining,
      });
      return toToolResult(res);
    } catch (err) {
      if (opts.signal?.aborted) return errorResult(`${label} was cancelled`);
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
        return errorResult(`${label} did not answer within ${opts.timeoutMs} ms`);
      }
      if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) {
        return errorResult(`${label} failed: the server connection closed during the call`);
      }
      if (!(err instanceof McpError)) {
        // The request never got an MCP answer (network down, session gone): reconnect.
        this.lost(gen, `a call failed: ${this.clean(err)}`);
      }
      return errorResult(`${label} failed: ${this.clean(err)}`);
    }
  }

  /**
   * Resolve when ready; reject on stop/failure, timeout or abort. Leaves no timer or listener.
   * A server that is down gets at most `callReconnectWaitMs` of the call's time to come back:
   * then the call answers "unreachable" with the last connection error.
   */
  private whenReady(opts: McpCallOptions, started: number): Promise<void> {
    if (this._state === 'ready' && this.client) return Promise.resolve();
    if (this._state === 'stopped') return Promise.reject(new Error('the server connection is stopped'));
    if (this._state === 'failed') return Promise.reject(new Error(this._error ?? 'the server connection failed'));
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.off('state', onState);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onState = (state: McpState) => {
        if (state === 'ready') finish();
        else if (state === 'stopped' || state === 'failed') finish(new Error(this._error ?? `the server connection is ${state}`));
      };
      const onAbort = () => finish(new Error('cancelled while waiting for the server to reconnect'));
      const left = Math.max(0, opts.timeoutMs - (Date.now() - started));
      const capped = this.callReconnectWaitMs < left;
      const wait = capped ? this.callReconnectWaitMs : left;
      const timer = setTimeout(() => {
        const why = this._error ? `: ${this._error}` : '';
        finish(
          new Error(
            capped
              ? `the server is unreachable (still ${this._state} after ${wait} ms; the call was not sent)${why}`
              : `the server was not connected within ${opts.timeoutMs} ms (${this._state}${why})`,
          ),
        );
      }, wait);
      this.on('state', onState);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ---- helpers ----------------------------------------------------------------------------

  private setState(state: McpState, error: string | null): void {
    const changed = state !== this._state || error !== this._error;
    this._state = state;
    this._error = error;
    if (changed) this.emit('state', state, error);
  }

  private describeConnectError(err: unknown, built: BuiltTransport): string {
    let msg = this.clean(err);
    if (err instanceof StreamableHTTPError && err.code !== undefined) msg = `HTTP ${err.code}: ${msg}`;
    if (isAuthFailure(err)) msg = `the server refused the credentials (${msg}): check the secret headers`;
    if (err instanceof McpConfigError) return msg;
    const tail = built.stderrTail();
    if (tail) msg = `${msg}: ${this.clean(tail)}`;
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT' && this.config?.transport === 'stdio') {
      msg = `command "${this.config.command}" was not found: check the command and PATH (${msg})`;
    }
    return msg;
  }

  /** A one-line message with every secret hidden. */
  private clean(err: unknown): string {
    const raw = err instanceof Error ? err.message : String(err);
    return redact(raw.replace(/\s+/g, ' ').trim(), this.secrets).slice(0, 500);
  }
}

function isAuthFailure(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 401 || err.code === 403;
  const name = (err as Error)?.name;
  return name === 'UnauthorizedError';
}
