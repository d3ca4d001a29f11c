/**
 * A loopback fake of Discord: the REST API and the WebSocket gateway, speaking the real wire
 * format (API v10, JSON encoding, no compression) so the real discord.js client can log in,
 * receive messages and reply through it. Reusable by any test, example or benchmark.
 *
 * ```ts
 * const discord = await FakeDiscord.start();          // token 'fake-bot-token'
 * const client = new Client({ intents, rest: { api: discord.apiUrl } });
 * await client.login(discord.token);
 * discord.userMessage({ content: 'hi <@' + discord.bot.id + '>' });   // a guild message
 * discord.userMessage({ dm: true, content: 'hello' });                 // a DM
 * await discord.until(() => discord.sent.length === 1);
 * discord.sent[0].content; discord.edits; discord.typing;
 * discord.dropSocket();            // abnormal close: the client resumes on resume_gateway_url
 * discord.rejectToken();           // REST says 401, the gateway closes 4004
 * discord.disallowIntents();       // IDENTIFY with Message Content closes 4014
 * discord.refuseGateway(true);     // REST works, the gateway upgrade is answered 503 (until false)
 * discord.rateLimitNext(1, 300);   // the next REST call gets a 429 (retry after 300 ms)
 * discord.failNextSend(401);       // the next POST /channels/:id/messages gets a 401, the rest work
 * discord.rawDispatch('MESSAGE_CREATE', { ...broken });   // any dispatch, as given (malformed too)
 * const release = discord.holdReady();   // IDENTIFY waits for release() before READY
 * await discord.close();
 * ```
 *
 * REST: `GET /api/v10/gateway/bot`, `GET /api/v10/users/@me`, `POST /api/v10/channels/:id/messages`,
 * `PATCH` and `DELETE /api/v10/channels/:id/messages/:mid`, `POST /api/v10/channels/:id/typing`. Anything else
 * is a 404 in Discord's error shape. Gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeat
 * ACKs, RESUME -> replay of missed dispatches + RESUMED, close codes 4004 and 4014.
 */
import { EventEmitter } from 'events';
import http from 'http';
import type { AddressInfo } from 'net';
import { WebSocketServer, type WebSocket } from 'ws';

/** A Discord user as the fake knows it (API user object subset). */
export interface FakeUser {
  id: string;
  username: string;
  global_name?: string | null;
  bot?: boolean;
  discriminator?: string;
  avatar?: string | null;
}

/** A message the bot sent through REST. */
export interface SentMessage {
  id: string;
  channelId: string;
  content: string;
  /** `message_reference` of the request body, if any. */
  reference?: { message_id: string; fail_if_not_exists?: boolean };
  allowedMentions?: unknown;
  body: Record<string, unknown>;
}

/** An edit the bot made through REST. */
export interface EditedMessage {
  channelId: string;
  messageId: string;
  content: string;
}

/** What {@link FakeDiscord.userMessage} takes. */
export interface UserMessageInput {
  content: string;
  /** Author; defaults to {@link FakeDiscord.alice}. */
  author?: FakeUser;
  /** Send as a DM to the bot (channel {@link FakeDiscord.dmChannelId} of this author). */
  dm?: boolean;
  /** Guild channel or thread id; defaults to the text channel. */
  channelId?: string;
  /** Users to list in `mentions` (add `discord.bot` to mention the bot). Content `<@id>` adds them too. */
  mentions?: FakeUser[];
  /** Reply to this earlier message id (a message the fake saw or the bot sent). */
  replyTo?: string;
  attachments?: { id?: string; filename: string; content_type?: string; size?: number; url?: string }[];
}

const MESSAGE_CONTENT_INTENT = 1 << 15;
const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | MESSAGE_CONTENT_INTENT;

let snowflakeCounter = 0n;
/** Snowflake-like ids: increasing, unique across fakes in one process. */
function snowflake(): string {
  snowflakeCounter += 1n;
  return String((BigInt(Date.now() - 1420070400000) << 22n) + snowflakeCounter);
}

export interface FakeDiscordOptions {
  /** The valid bot token. */
  token?: string;
  /** HELLO heartbeat_interval in ms (Discord uses ~41250). */
  heartbeatIntervalMs?: number;
  /** Listen on this loopback port (a fake started again where an earlier one was); default a free one. */
  port?: number;
}

/** A recorded gateway connection. */
export interface GatewayConnection {
  /** Path and query the client connected with, e.g. `/gateway?v=10&encoding=json`. */
  url: string;
  socket: WebSocket;
  /** `identify`, `resume` or undefined until the client says which. */
  kind?: 'identify' | 'resume';
  identify?: { token: string; intents: number; properties: unknown };
}

export class FakeDiscord extends EventEmitter {
  readonly token: string;
  readonly bot: FakeUser = { id: snowflake(), username: 'clawbot', global_name: null, bot: true, discriminator: '0', avatar: null };
  readonly alice: FakeUser = { id: snowflake(), username: 'alice', global_name: 'Alice', discriminator: '0', avatar: null };
  readonly otherBot: FakeUser = { id: snowflake(), username: 'otherbot', global_name: null, bot: true, discriminator: '0', avatar: null };
  readonly applicationId = snowflake();
  readonly guildId = snowflake();
  /** A guild text channel. */
  readonly channelId = snowflake();
  /** The bot's managed role in the guild (Discord makes one per bot; `<@&id>` mentions it). */
  readonly botRoleId = snowflake();
  /** A public thread inside {@link channelId}. */
  readonly threadId = snowflake();

  /** Messages the bot sent, in the order they arrived. */
  readonly sent: SentMessage[] = [];
  readonly edits: EditedMessage[] = [];
  /** Ids of bot messages deleted through REST (DELETE /channels/:id/messages/:mid). */
  readonly deleted: string[] = [];
  /** Channel ids of typing requests, in order. */
  readonly typing: string[] = [];
  /** Every REST request: method, path (after /api/v10), status answered. */
  readonly requests: { method: string; path: string; status: number }[] = [];
  readonly connections: GatewayConnection[] = [];
  /** Gateway socket opens and closes in order: `open 1`, `close 1`, `open 2` ... (1-based). */
  readonly gatewayLog: string[] = [];
  heartbeats = 0;

  private server!: http.Server;
  private wss!: WebSocketServer;
  private port = 0;
  private valid = true;
  private gatewayValid = true;
  private intentsAllowed = true;
  private gatewayRefused = false;
  /** Gateway upgrades answered 503 by {@link refuseGateway}. */
  refusedUpgrades = 0;
  private rateLimits: { count: number; retryAfterMs: number }[] = [];
  private sendFailures: number[] = [];
  private readyGate?: Promise<void>;
  private readonly heartbeatIntervalMs: number;
  private readonly wantedPort: number;
  private readonly dmChannels = new Map<string, string>();
  private readonly messages = new Map<string, Record<string, unknown>>();
  private session?: { id: string; seq: number; log: { s: number; t: string; d: unknown }[] };
  private current?: GatewayConnection;

  private constructor(opts: FakeDiscordOptions) {
    super();
    this.token = opts.token ?? 'fake-bot-token';
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 41_250;
    this.wantedPort = opts.port ?? 0;
  }

  /** Start the fake on a free loopback port. */
  static async start(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(opts);
    await fake.listen();
    return fake;
  }

  /** Base for discord.js `rest.api` (it appends `/v10/...`). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** URL that GET /gateway/bot hands out. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  /** URL READY names as `resume_gateway_url` (a different path, so tests see it was used). */
  get resumeUrl(): string {
    return `ws://127.0.0.1:${this.port}/resume`;
  }

  /** Sockets currently open. */
  get openSockets(): number {
    return this.wss ? this.wss.clients.size : 0;
  }

  /** The DM channel id between the bot and `user` (created on first use). */
  dmChannelId(user: FakeUser = this.alice): string {
    let id = this.dmChannels.get(user.id);
    if (!id) {
      id = snowflake();
      this.dmChannels.set(user.id, id);
    }
    return id;
  }

  /**
   * From now on, the token is wrong: REST answers 401 and IDENTIFY/RESUME close with 4004.
   * `'gateway'` rejects it on the gateway only (REST still works), to reach the 4004 path.
   */
  rejectToken(where: 'all' | 'gateway' = 'all'): void {
    if (where === 'all') this.valid = false;
    this.gatewayValid = false;
  }

  /** While on, the REST API works but every gateway upgrade is answered 503 (a gateway outage). */
  refuseGateway(on: boolean): void {
    this.gatewayRefused = on;
  }

  /** Privileged intents (Message Content) not enabled for the app: IDENTIFY closes with 4014. */
  disallowIntents(): void {
    this.intentsAllowed = false;
  }

  /** The next `count` REST requests get a 429 with `Retry-After` and an exhausted bucket. */
  rateLimitNext(count: number, retryAfterMs: number): void {
    this.rateLimits.push({ count, retryAfterMs });
  }

  /**
   * The next POST /channels/:id/messages answers `status` (401 by default) in Discord's error
   * shape; calls after it succeed again. Call it twice to fail two sends.
   */
  failNextSend(status = 401): void {
    this.sendFailures.push(status);
  }

  /**
   * Dispatch `d` as event `t` exactly as given (no defaults filled in), e.g. a malformed
   * MESSAGE_CREATE. Queued for RESUME replay like any dispatch.
   */
  rawDispatch(t: string, d: unknown): void {
    this.dispatch(t, d);
  }

  /**
   * From now on IDENTIFY is answered with READY only after the returned function is called
   * (the client stays `connecting` until then). HELLO and heartbeats go on as usual.
   */
  holdReady(): () => void {
    let release!: () => void;
    this.readyGate = new Promise<void>((r) => (release = r));
    return () => {
      this.readyGate = undefined;
      release();
    };
  }

  /**
   * A user posts a message: dispatch MESSAGE_CREATE to the bot (queued for RESUME replay if no
   * socket is up). Returns the message object as sent on the wire.
   */
  userMessage(input: UserMessageInput): Record<string, unknown> {
    const author = input.author ?? this.alice;
    const mentions = [...(input.mentions ?? [])];
    for (const m of input.content.matchAll(/<@!?(\d+)>/g)) {
      const u = [this.bot, this.alice, this.otherBot].find((x) => x.id === m[1]);
      if (u && !mentions.some((x) => x.id === u.id)) mentions.push(u);
    }
    const mentionRoles = [...input.content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]);
    const referenced = input.replyTo ? this.messages.get(input.replyTo) : undefined;
    const msg: Record<string, unknown> = {
      id: snowflake(),
      type: input.replyTo ? 19 : 0,
      channel_id: input.dm ? this.dmChannelId(author) : input.channelId ?? this.channelId,
      author,
      content: input.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions,
      mention_roles: input.dm ? [] : mentionRoles,
      attachments: (input.attachments ?? []).map((a) => ({
        id: a.id ?? snowflake(),
        filename: a.filename,
        content_type: a.content_type,
        size: a.size ?? 0,
        url: a.url ?? `https://cdn.discordapp.com/attachments/${a.filename}`,
        proxy_url: a.url ?? `https://media.discordapp.net/attachments/${a.filename}`,
      })),
      embeds: [],
      pinned: false,
      flags: 0,
    };
    if (input.dm) {
      msg.channel_type = 1;
    } else {
      msg.guild_id = this.guildId;
      msg.member = { roles: [], joined_at: new Date(0).toISOString(), deaf: false, mute: false, nick: null, flags: 0 };
      msg.channel_type = input.channelId === this.threadId ? 11 : 0;
    }
    if (input.replyTo) {
      msg.message_reference = { type: 0, message_id: input.replyTo, channel_id: msg.channel_id, guild_id: msg.guild_id };
      msg.referenced_message = referenced ?? null;
      const refAuthor = referenced?.author as FakeUser | undefined;
      if (refAuthor && !mentions.some((x) => x.id === refAuthor.id)) mentions.push(refAuthor);
    }
    this.messages.set(msg.id as string, msg);
    this.dispatch('MESSAGE_CREATE', msg);
    return msg;
  }

  /** Close the live gateway socket abnormally (1006); the client should RESUME. */
  dropSocket(): void {
    this.current?.socket.terminate();
    this.current = undefined;
  }

  /**
   * Resolve once `predicate()` holds; it is re-checked on every REST request and gateway event.
   * Rejects after `ms` with the state it saw.
   */
  until(predicate: () => boolean, ms = 5000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.off('activity', check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('activity', check);
        reject(new Error(`FakeDiscord.until timed out; sent=${JSON.stringify(this.sent.map((s) => s.content.slice(0, 40)))} edits=${this.edits.length} typing=${this.typing.length} connections=${this.connections.map((c) => `${c.url}:${c.kind}`).join(',')}`));
      }, ms);
      this.on('activity', check);
    });
  }

  /** Stop the server and close every socket. */
  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- gateway -------------------------------------------------------------------------------

  private dispatch(t: string, d: unknown): void {
    if (!this.session) return;
    const s = ++this.session.seq;
    this.session.log.push({ s, t, d });
    const ws = this.current?.socket;
    if (ws && ws.readyState === ws.OPEN && this.current?.kind) ws.send(JSON.stringify({ op: 0, t, s, d }));
  }

  private onConnection(ws: WebSocket, req: http.IncomingMessage): void {
    const conn: GatewayConnection = { url: req.url ?? '', socket: ws };
    this.connections.push(conn);
    const n = this.connections.length;
    this.gatewayLog.push(`open ${n}`);
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
    ws.on('message', (raw) => {
      let p: { op: number; d: any };
      try {
        p = JSON.parse(String(raw));
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.onPayload(conn, p);
      this.emit('activity');
    });
    ws.on('close', () => {
      this.gatewayLog.push(`close ${n}`);
      if (this.current === conn) this.current = undefined;
      this.emit('activity');
    });
    this.emit('activity');
  }

  private onPayload(conn: GatewayConnection, p: { op: number; d: any }): void {
    const ws = conn.socket;
    switch (p.op) {
      case 1:
        this.heartbeats++;
        ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
        return;
      case 2: {
        conn.identify = { token: p.d?.token, intents: Number(p.d?.intents), properties: p.d?.properties };
        if (!this.gatewayValid || p.d?.token !== this.token) return ws.close(4004, 'Authentication failed.');
        if (!this.intentsAllowed && (conn.identify.intents & PRIVILEGED_INTENTS)) return ws.close(4014, 'Disallowed intent(s).');
        if (this.readyGate) {
          void this.readyGate.then(() => {
            if (ws.readyState === ws.OPEN) this.onPayload(conn, p);
          });
          return;
        }
        conn.kind = 'identify';
        this.current = conn;
        this.session = { id: snowflake(), seq: 0, log: [] };
        this.dispatch('READY', {
          v: 10,
          user: this.bot,
          guilds: [{ id: this.guildId, unavailable: true }],
          session_id: this.session.id,
          resume_gateway_url: this.resumeUrl,
          shard: [0, 1],
          application: { id: this.applicationId, flags: 0 },
        });
        this.dispatch('GUILD_CREATE', this.guildPayload());
        return;
      }
      case 6: {
        if (!this.gatewayValid || p.d?.token !== this.token) return ws.close(4004, 'Authentication failed.');
        if (!this.session || p.d?.session_id !== this.session.id) {
          ws.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
          return;
        }
        conn.kind = 'resume';
        this.current = conn;
        const seq = Number(p.d.seq ?? 0);
        for (const e of this.session.log.filter((x) => x.s > seq)) ws.send(JSON.stringify({ op: 0, t: e.t, s: e.s, d: e.d }));
        this.dispatch('RESUMED', {});
        return;
      }
      default:
        return;
    }
  }

  private guildPayload(): Record<string, unknown> {
    return {
      id: this.guildId,
      name: 'Fake Guild',
      icon: null,
      owner_id: this.alice.id,
      unavailable: false,
      member_count: 2,
      joined_at: new Date(0).toISOString(),
      large: false,
      features: [],
      roles: [
        { id: this.guildId, name: '@everyone', permissions: '1071698660929', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 },
        { id: this.botRoleId, name: this.bot.username, permissions: '0', position: 1, color: 0, hoist: false, managed: true, mentionable: false, flags: 0, tags: { bot_id: this.bot.id } },
      ],
      emojis: [],
      stickers: [],
      members: [],
      voice_states: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      channels: [{ id: this.channelId, type: 0, name: 'general', position: 0, guild_id: this.guildId, permission_overwrites: [], parent_id: null }],
      threads: [
        {
          id: this.threadId,
          type: 11,
          name: 'a thread',
          guild_id: this.guildId,
          parent_id: this.channelId,
          owner_id: this.alice.id,
          message_count: 0,
          member_count: 1,
          thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
        },
      ],
    };
  }

  // ---- REST ----------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.onRequest(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/gateway' && path !== '/resume') return socket.destroy();
      if (this.gatewayRefused) {
        this.refusedUpgrades++;
        socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    });
    await new Promise<void>((r) => this.server.listen(this.wantedPort, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = (req.url ?? '').split('?')[0].replace(/^\/api\/v10/, '');
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method, path, status });
      // Like Discord: a 204 has no body and no content type (a JSON type with an empty body
      // makes discord.js's REST client fail to parse it).
      res.writeHead(status, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
      this.emit('activity');
    };
    if (req.headers.authorization !== `Bot ${this.token}` || !this.valid) return reply(401, { message: '401: Unauthorized', code: 0 });
    const limit = this.rateLimits[0];
    if (limit) {
      if (--limit.count <= 0) this.rateLimits.shift();
      const secs = (limit.retryAfterMs / 1000).toFixed(3);
      return reply(
        429,
        { message: 'You are being rate limited.', retry_after: Number(secs), global: false },
        { 'retry-after': secs, 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': secs, 'x-ratelimit-bucket': 'fakebucket', 'x-ratelimit-scope': 'user' },
      );
    }
    const body = raw ? (JSON.parse(raw) as Record<string, any>) : {};
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/gateway/bot') {
      return reply(200, { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } });
    }
    if (method === 'GET' && path === '/users/@me') return reply(200, this.bot);
    const channel = /^\/channels\/(\d+)/.exec(path)?.[1];
    if (channel && !this.knownChannel(channel)) return reply(404, { message: 'Unknown Channel', code: 10003 });
    if (method === 'POST' && (m = /^\/channels\/(\d+)\/typing$/.exec(path))) {
      this.typing.push(m[1]);
      return reply(204);
    }
    if (method === 'POST' && (m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      if (typeof body.content !== 'string' || !body.content.trim()) return reply(400, { message: 'Cannot send an empty message', code: 50006 });
      if ([...body.content].length > 2000) return reply(400, { message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
      const failure = this.sendFailures.shift();
      if (failure === 401) return reply(401, { message: '401: Unauthorized', code: 0 });
      if (failure !== undefined) return reply(failure, { message: `fake failure ${failure}`, code: 0 });
      const msg = this.botMessage(m[1], body.content, body.message_reference);
      this.sent.push({ id: msg.id as string, channelId: m[1], content: body.content, reference: body.message_reference, allowedMentions: body.allowed_mentions, body });
      return reply(200, msg);
    }
    if (method === 'PATCH' && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const msg = this.messages.get(m[2]);
      if (!msg || msg.channel_id !== m[1]) return reply(404, { message: 'Unknown Message', code: 10008 });
      if ([...String(body.content ?? '')].length > 2000) return reply(400, { message: 'Invalid Form Body', code: 50035 });
      msg.content = body.content;
      msg.edited_timestamp = new Date().toISOString();
      this.edits.push({ channelId: m[1], messageId: m[2], content: body.content });
      return reply(200, msg);
    }
    if (method === 'DELETE' && (m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const msg = this.messages.get(m[2]);
      if (!msg || msg.channel_id !== m[1]) return reply(404, { message: 'Unknown Message', code: 10008 });
      this.messages.delete(m[2]);
      this.deleted.push(m[2]);
      return reply(204);
    }
    return reply(404, { message: '404: Not Found', code: 0 });
  }

  private knownChannel(id: string): boolean {
    return id === this.channelId || id === this.threadId || [...this.dmChannels.values()].includes(id);
  }

  private botMessage(channelId: string, content: string, reference?: { message_id: string }): Record<string, unknown> {
    const msg: Record<string, unknown> = {
      id: snowflake(),
      type: reference ? 19 : 0,
      channel_id: channelId,
      author: this.bot,
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      pinned: false,
      flags: 0,
    };
    if (reference) msg.message_reference = { type: 0, message_id: reference.message_id, channel_id: channelId };
    this.messages.set(msg.id as string, msg);
    // Discord echoes the bot's own messages on the gateway, as it does for everyone's.
    const dmUser = [...this.dmChannels].find(([, id]) => id === channelId);
    const echo: Record<string, unknown> = { ...msg };
    if (dmUser) echo.channel_type = 1;
    else {
      echo.guild_id = this.guildId;
      echo.channel_type = channelId === this.threadId ? 11 : 0;
    }
    this.dispatch('MESSAGE_CREATE', echo);
    return msg;
  }
}
