/**
 * One bot account's connection to Discord: owns the single discord.js `Client`, keeps one
 * explicit state, logs in again (with a capped backoff) when Discord cannot be reached, and
 * stops for good when retrying cannot help (bad token, privileged intent not enabled).
 * Gateway drops are resumed by discord.js itself; this class only reports them.
 *
 * Events: `status` ({@link DiscordStatus}) on every change, `message` (a discord.js `Message`)
 * for every message the bot can see, `malformed` ({@link MalformedPacket}) for a gateway packet
 * discord.js could not parse (skipped; the client goes on). No Node-RED in here: the config
 * node wraps it.
 */
import { EventEmitter } from 'events';
import { Client, Events, GatewayIntentBits, Partials, SimpleShardingStrategy, type Message } from 'discord.js';
import { classifyError, failureFromCloseCode, type DiscordFailure } from './failures';

/** A gateway dispatch that discord.js threw on while parsing it; it was skipped. */
export interface MalformedPacket {
  /** The dispatch name, e.g. `MESSAGE_CREATE`. */
  event: string;
  /** What discord.js said (the error's message). */
  detail: string;
}

export type DiscordState = 'connecting' | 'ready' | 'reconnecting' | 'stopped' | 'failed';

export interface DiscordStatus {
  state: DiscordState;
  /** The bot's user id and name once Discord told us (READY). */
  botId?: string;
  botName?: string;
  /** Why it failed (state `failed`), or the last error while `reconnecting`. */
  failure?: DiscordFailure;
  /** Set while discord.js's REST queue holds requests back for a rate limit: ms until it lifts. */
  rateLimitedMs?: number;
  /**
   * Set while `ready` (or `reconnecting`) when Discord's REST API answered 401 (kind `token`):
   * the gateway still accepts the bot, but a reply was refused. Cleared by the next REST call
   * that succeeds, and by `failed`/`stopped`.
   */
  restFailure?: DiscordFailure;
}

export interface DiscordConnectionOptions {
  token: string;
  /** REST base (discord.js `rest.api`); the gateway URL comes from `GET /gateway/bot` under it. */
  apiUrl?: string;
  /** First login retry delay after a network failure; doubles up to `retryMaxMs`. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Upper bound on how long `stop()` waits for a login in flight before destroying. */
  stopWaitMs?: number;
}

/**
 * Guild messages, DMs and their text. Message Content is privileged: the app owner must enable
 * it in the Developer Portal, or Discord closes the gateway with 4014.
 */
export const DISCORD_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.MessageContent,
];

export class DiscordConnection extends EventEmitter {
  private client?: Client;
  private current: DiscordStatus = { state: 'stopped' };
  private stopping = false;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private rateTimer?: NodeJS.Timeout;
  private login?: Promise<unknown>;

  constructor(private readonly opts: DiscordConnectionOptions) {
    super();
  }

  /** The current state (a copy). */
  get status(): DiscordStatus {
    return { ...this.current };
  }

  /** The live client (for REST calls), if one exists. */
  get discord(): Client | undefined {
    return this.client;
  }

  /**
   * Resolve once the bot is ready (at once if it is). Rejects when it fails or stops, when `ms`
   * pass, or when `signal` aborts; the error's message is the state it was in.
   */
  whenReady(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.current.state === 'ready' && this.client) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.off('status', onStatus);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onStatus = (s: DiscordStatus) => {
        if (s.state === 'ready' && this.client) finish();
        else if (s.state === 'failed' || s.state === 'stopped') finish(new Error(s.state));
      };
      const onAbort = () => finish(new Error('aborted'));
      const timer = setTimeout(() => finish(new Error(this.current.state)), ms);
      this.on('status', onStatus);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
    });
  }

  /** Log in. Does nothing if already started. */
  start(): void {
    if (this.client || this.retryTimer) return;
    this.stopping = false;
    this.connect();
  }

  /**
   * Destroy the client and clear every timer. Resolves once the gateway socket is closed, so a
   * new connection for the same token may log in right after (a redeploy).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.retryTimer = this.rateTimer = undefined;
    const client = this.client;
    const login = this.login;
    this.client = undefined;
    if (client) {
      // Destroying a shard while it waits for HELLO/READY makes @discordjs/ws schedule a
      // reconnect of its own; let a login in flight settle first (bounded), then destroy.
      if (login) await settleWithin(login, this.opts.stopWaitMs ?? 10_000);
      await dispose(client);
    }
    this.set({ state: 'stopped' });
  }

  private connect(): void {
    const client = new Client({
      intents: DISCORD_INTENTS,
      // DM channels are not cached before their first message: without this partial,
      // discord.js drops DMs.
      partials: [Partials.Channel],
      ws: { buildStrategy: (manager) => new FinalShardingStrategy(manager) },
      rest: this.opts.apiUrl ? { api: this.opts.apiUrl } : {},
    });
    this.client = client;
    this.wire(client);
    this.set({ state: this.attempt === 0 ? 'connecting' : 'reconnecting', failure: this.current.failure });
    const login = client.login(this.opts.token);
    this.login = login;
    login.then(
      () => {
        if (this.login === login) this.login = undefined;
      },
      (err: unknown) => {
        if (this.login === login) this.login = undefined;
        if (this.stopping || this.client !== client) return;
        const failure = this.current.state === 'failed' && this.current.failure ? this.current.failure : classifyError(err);
        this.client = undefined;
        // A login that failed on the gateway leaves its shard retrying on its own: end it, or
        // every retry adds one more gateway session once Discord is back.
        void dispose(client);
        if (!failure.retryable) return this.set({ state: 'failed', failure });
        this.scheduleRetry(failure);
      },
    );
  }

  private scheduleRetry(failure: DiscordFailure): void {
    const base = this.opts.retryBaseMs ?? 2000;
    const delay = Math.min(this.opts.retryMaxMs ?? 60_000, base * 2 ** this.attempt);
    this.attempt++;
    this.set({ state: 'reconnecting', failure });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopping) this.connect();
    }, delay);
  }

  private wire(client: Client): void {
    const mine = (fn: (...args: any[]) => void) => (...args: any[]) => {
      if (this.client === client && !this.stopping) fn(...args);
    };
    const ready = mine(() => {
      this.attempt = 0;
      this.set({ state: 'ready', botId: client.user?.id, botName: client.user?.username });
    });
    client.on(Events.ClientReady, ready);
    client.on(Events.ShardResume, ready);
    client.on(Events.ShardReady, mine(() => client.isReady() && ready()));
    client.on(Events.ShardReconnecting, mine(() => this.set({ ...this.current, state: 'reconnecting' })));
    client.on(
      Events.ShardDisconnect,
      mine((event: { code: number }) => {
        // discord.js gives up after these codes; say why and stop.
        const failure = failureFromCloseCode(event.code);
        this.set({ state: 'failed', failure });
        if (this.client === client) {
          this.client = undefined;
          if (!this.login) void client.destroy().catch(() => undefined);
        }
      }),
    );
    // Without an 'error' listener an EventEmitter throws; discord.js reports shard trouble here.
    client.on(Events.Error, () => undefined);
    client.on(Events.ShardError, () => undefined);
    client.on(Events.MessageCreate, mine((message: Message) => this.emit('message', message)));
    this.guardPackets(client);
    this.keepTokenAfter401(client);
    client.rest.on(
      'rateLimited',
      mine((info: { timeToReset: number; retryAfter: number }) => {
        const ms = Math.max(0, Math.round(info.retryAfter || info.timeToReset || 0));
        this.set({ ...this.current, rateLimitedMs: ms });
        if (this.rateTimer) clearTimeout(this.rateTimer);
        this.rateTimer = setTimeout(() => {
          this.rateTimer = undefined;
          const { rateLimitedMs: _gone, ...rest } = this.current;
          this.set(rest);
        }, ms);
      }),
    );
  }

  /**
   * discord.js parses each dispatch synchronously inside @discordjs/ws's (async) message
   * handler, so a packet it cannot parse (MESSAGE_CREATE with `author: null`, or a string
   * where an object belongs) throws out of `WebSocketManager.handlePacket` as an unhandled
   * rejection, and that ends the whole Node-RED process. Wrap this one client's packet
   * handling: report the packet as `malformed` and go on with the next one. (Queued packets
   * are replayed through `this.handlePacket` too, so they pass through the wrapper as well.)
   */
  private guardPackets(client: Client): void {
    const ws = client.ws as unknown as { handlePacket?: (packet?: { t?: unknown }, shard?: unknown) => boolean };
    const handle = ws.handlePacket;
    if (typeof handle !== 'function') return;
    ws.handlePacket = (packet, shard) => {
      markDirectMessage(packet);
      try {
        return handle.call(ws, packet, shard);
      } catch (err) {
        if (this.client === client && !this.stopping) {
          const event = typeof packet?.t === 'string' ? packet.t : 'dispatch';
          const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          this.emit('malformed', { event, detail } satisfies MalformedPacket);
        }
        return true;
      }
    };
  }

  /**
   * @discordjs/rest forgets the token after any 401 (`setToken(null)`), so one 401 (from a
   * proxy, or a glitch) made every later reply fail with "Expected token to be set" until a
   * redeploy, with the status still green. Report the 401 on the status instead and keep the
   * token; a token Discord really revoked also closes the gateway with 4004, which stops this
   * client for good (see `wire`).
   */
  private keepTokenAfter401(client: Client): void {
    const rest = client.rest;
    let dropping = false;
    // Typed `string`, but @discordjs/rest and discord.js's destroy() pass null to clear it.
    const setToken = rest.setToken.bind(rest) as (token: string | null) => typeof rest;
    rest.setToken = (token: string | null) => {
      // Only the drop that directly follows a 401; destroy() still clears the token.
      if (token === null && dropping) {
        dropping = false;
        return rest;
      }
      return setToken(token);
    };
    rest.on('response', (request: { method: string; path: string; data?: { auth?: boolean } }, response: { status: number }) => {
      if (this.client !== client || this.stopping) return;
      if (response.status === 401) {
        dropping = request.data?.auth !== false;
        // While logging in, a 401 fails the login itself (state `failed`, kind `token`).
        if (this.current.state !== 'ready' && this.current.state !== 'reconnecting') return;
        const detail = `${String(request.method).toUpperCase()} ${request.path}: 401 Unauthorized`;
        this.set({ ...this.current, restFailure: { kind: 'token', code: 401, detail, retryable: false } });
      } else if (response.status >= 200 && response.status < 300 && this.current.restFailure) {
        const { restFailure: _gone, ...others } = this.current;
        this.set(others);
      }
    });
  }

  private set(next: DiscordStatus): void {
    if (next.state === 'ready' || next.state === 'stopped') delete next.failure;
    if (next.state === 'failed' || next.state === 'stopped') delete next.restFailure;
    if (next.state === 'stopped') delete next.rateLimitedMs;
    this.current = next;
    this.emit('status', this.status);
  }
}

/**
 * discord.js makes the channel of a DM it has not cached from the MESSAGE_CREATE's
 * `channel_type`; without that field it drops the message, so a stranger's first DM (a pairing
 * request) vanished. A message without `guild_id` is a DM for a bot (bots are in no group DMs):
 * say so when the packet does not.
 */
function markDirectMessage(packet: unknown): void {
  const p = packet as { t?: unknown; d?: unknown } | undefined;
  if (p?.t !== 'MESSAGE_CREATE' || !p.d || typeof p.d !== 'object') return;
  const d = p.d as Record<string, unknown>;
  if (d.guild_id == null && d.channel_type === undefined) d.channel_type = 1; // ChannelType.DM
}

/** Destroy `client` (its shards for good, see {@link FinalShardingStrategy}) and drop its listeners. */
async function dispose(client: Client): Promise<void> {
  await client.destroy().catch(() => undefined);
  client.removeAllListeners();
  client.rest.removeAllListeners();
}

/** The part of an @discordjs/ws `WebSocketShard` that {@link FinalShardingStrategy} uses. */
interface GatewayShard {
  internalConnect(): Promise<void>;
  destroy(options?: { code?: number }): Promise<void>;
}

/**
 * @discordjs/ws's reconnect loop outlives `destroy()`: while the gateway cannot be reached a
 * shard waits 500 ms between attempts in state Idle, destroy() skips an idle shard, and the
 * loop then connects and IDENTIFYs again: a gateway session nobody owns, one more per failed
 * login attempt or redeploy during an outage. This strategy's destroy() also makes its shards
 * unable to connect again, and closes a socket a connect attempt already in flight opened.
 */
class FinalShardingStrategy extends SimpleShardingStrategy {
  override async destroy(options?: Parameters<SimpleShardingStrategy['destroy']>[0]): Promise<void> {
    const shards = [...((this as unknown as { shards: Map<number, GatewayShard> }).shards?.values() ?? [])];
    for (const shard of shards) shard.internalConnect = async () => undefined;
    await super.destroy(options);
    await new Promise((resolve) => setImmediate(resolve));
    for (const shard of shards) await shard.destroy({ code: 1000 }).catch(() => undefined);
  }
}

function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
