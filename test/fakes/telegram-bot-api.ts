/**
 * A loopback fake of the Telegram Bot API (127.0.0.1 only) that speaks its wire format:
 * `POST /bot<token>/<method>` with JSON, form or query parameters, answering
 * `{ ok: true, result }` or `{ ok: false, error_code, description, parameters? }`.
 *
 * Implemented: getMe, getUpdates (real long polling: `offset` confirms and drops earlier
 * updates, `timeout` holds the request open until an update arrives; a second concurrent
 * getUpdates terminates the first with 409, as Telegram does), sendMessage, editMessageText,
 * sendChatAction, deleteMessage, setWebhook / deleteWebhook / getWebhookInfo (with a webhook set, updates are
 * POSTed to it with the X-Telegram-Bot-Api-Secret-Token header and getUpdates is a 409).
 * Failures can be injected per method (`fail`), requests dropped without an answer (`drop`,
 * or `reset` for a TCP reset), odd `ok: true` answers (`result`),
 * and the whole server taken away and brought back on the same port (`goAway`/`comeBack`).
 *
 * Usage:
 *   const tg = await startFakeTelegram();            // tg.apiRoot -> grammY client.apiRoot
 *   tg.userSays('hello');                            // a DM from the default user
 *   tg.userSays('@clawflow_test_bot hi', { chat: tg.group }); // in a group, entities auto-filled
 *   await tg.waitForSent((m) => m.text.includes('hi'));       // what the bot sent (after edits)
 *   tg.fail('sendMessage', { code: 429, retryAfter: 1 });     // next sendMessage gets a 429
 *   await tg.close();
 */
import http from 'http';
import type { AddressInfo, Socket } from 'net';
import { parseTelegramHtml } from './telegram-html';

export interface FakeUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
}

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  is_forum?: boolean;
}

/** A message the bot sent, as it stands now (edits applied). */
export interface SentMessage {
  chatId: number;
  messageId: number;
  /** Visible text (markup parsed). */
  text: string;
  /** The text as sent, with markup. */
  raw: string;
  parseMode?: string;
  replyToMessageId?: number;
  threadId?: number;
  /** Each text it had, first to last. */
  history: string[];
  /** Times it was edited. */
  edits: number;
}

export interface ApiCall {
  method: string;
  params: Record<string, any>;
  at: number;
  /** The error_code answered, 0 for ok, -1 for dropped. */
  answered: number;
}

export interface FailureSpec {
  code?: number;
  description?: string;
  /** For 429: seconds in `parameters.retry_after`. */
  retryAfter?: number;
  /** Answer with this HTTP body instead (not JSON: a broken proxy). */
  rawBody?: string;
  /** Close the connection without answering (the client sees "socket hang up"). */
  drop?: boolean;
  /** Reset the connection (TCP RST) without answering (the client sees ECONNRESET). */
  reset?: boolean;
  /** Answer `{ ok: true, result }` with this result instead (a broken proxy or API root). */
  result?: unknown;
}

export interface UserMessageOptions {
  chat?: FakeChat;
  from?: FakeUser;
  /** Reply to this message id (bot's or user's) in the same chat. */
  replyTo?: number;
  /** Forum topic. */
  threadId?: number;
  /** Explicit entities; default: bot_command at the start and @mentions, as Telegram sets them. */
  entities?: any[];
  /** Send as a caption of this media instead of text. */
  media?: { photo?: boolean; document?: { file_name: string; mime_type: string; file_size: number } };
  /** Make this an edit of an earlier user message (edited_message update). */
  editOf?: number;
}

export interface FakeTelegramOptions {
  token?: string;
  port?: number;
  username?: string;
}

export interface FakeTelegram {
  /** For grammY's `client.apiRoot`. */
  apiRoot: string;
  port: number;
  token: string;
  bot: FakeUser & { username: string };
  /** Default user (DM chat = user id) and a supergroup. */
  user: FakeUser;
  dm: FakeChat;
  group: FakeChat;
  calls: ApiCall[];
  /** sendChatAction calls. */
  actions: { chatId: number; action: string; at: number }[];
  /** Messages the bot deleted (deleteMessage); they no longer show in sent(). */
  deleted: SentMessage[];
  /** Current webhook, if set. */
  webhook?: { url: string; secret?: string };
  /** Deliveries POSTed to the webhook with their HTTP status. */
  deliveries: { updateId: number; status: number }[];
  /** A user message into a chat (entities filled like Telegram); returns the update. */
  userSays(text: string, opts?: UserMessageOptions): any;
  /** Queue any update (update_id added unless present). Returns its update_id. */
  injectUpdate(update: Record<string, unknown>): number;
  /** Messages the bot sent, optionally in one chat. */
  sent(chatId?: number): SentMessage[];
  /** Resolve with the first sent message matching, waiting up to `ms`. */
  waitForSent(match: (m: SentMessage) => boolean, ms?: number): Promise<SentMessage>;
  /** Resolve when `cond()` holds (checked on every API call and every 20 ms). */
  waitFor(cond: () => boolean, what: string, ms?: number): Promise<void>;
  /** The next `times` calls of `method` ('*' = any) fail this way. */
  fail(method: string, spec: FailureSpec, times?: number): void;
  /** Updates not yet confirmed by an offset. */
  pending(): number;
  /**
   * Telegram after a week without updates: the next update_id is chosen anew (often far lower).
   * An offset above every id issued since then confirms nothing, so getUpdates returns the new
   * updates although the client's offset is higher (go-telegram-bot-api#156).
   */
  renumberUpdates(nextId: number): void;
  /** getUpdates requests being held open now. */
  activePolls(): number;
  /** Stop listening and cut every connection (the Bot API went away). */
  goAway(): Promise<void>;
  /** Listen again on the same port. */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

interface Waiter {
  res: http.ServerResponse;
  offset?: number;
  timer: NodeJS.Timeout;
  call: ApiCall;
}

export async function startFakeTelegram(opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const token = opts.token ?? '123456789:AAFakeTokenForTests_abcdefghijklmno';
  const botId = Number(token.split(':')[0]);
  const bot = { id: botId, is_bot: true, first_name: 'Clawflow Test', username: opts.username ?? 'clawflow_test_bot' };
  const user: FakeUser = { id: 1001, is_bot: false, first_name: 'Ann', last_name: 'Lee', username: 'ann' };
  const dm: FakeChat = { id: user.id, type: 'private' };
  const group: FakeChat = { id: -100200300, type: 'supergroup', title: 'Test group' };

  const sockets = new Set<Socket>();
  const calls: ApiCall[] = [];
  const actions: FakeTelegram['actions'] = [];
  const deliveries: FakeTelegram['deliveries'] = [];
  const failures: { method: string; spec: FailureSpec }[] = [];
  const updates: any[] = [];
  const messages = new Map<string, SentMessage>(); // `${chat}:${id}`
  const userMessages = new Map<string, any>();
  const nextMessageId = new Map<number, number>();
  const chats = new Map<number, FakeChat>([[dm.id, dm], [group.id, group]]);
  const listeners = new Set<() => void>();
  let nextUpdateId = 500_000;
  /** Highest update_id issued (an offset beyond it + 1 confirms nothing, see renumberUpdates). */
  let issuedMax = -Infinity;
  let poll: Waiter | undefined;
  let port = opts.port ?? 0;
  let server: http.Server | undefined;
  let delivering = false;
  let closed = false;

  const notify = () => {
    for (const fn of [...listeners]) fn();
  };
  const newMessageId = (chatId: number) => {
    const n = nextMessageId.get(chatId) ?? 1;
    nextMessageId.set(chatId, n + 1);
    return n;
  };
  const reply = (res: http.ServerResponse, status: number, body: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const ok = (res: http.ServerResponse, call: ApiCall, result: unknown) => {
    call.answered = 0;
    reply(res, 200, { ok: true, result });
    notify();
  };
  const error = (res: http.ServerResponse, call: ApiCall, code: number, description: string, parameters?: object) => {
    call.answered = code;
    reply(res, code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });
    notify();
  };

  const readParams = (req: http.IncomingMessage, url: URL) =>
    new Promise<Record<string, any>>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const params: Record<string, any> = Object.fromEntries(url.searchParams);
        const raw = Buffer.concat(chunks).toString('utf8');
        const type = String(req.headers['content-type'] ?? '');
        try {
          if (raw && type.includes('json')) Object.assign(params, JSON.parse(raw));
          else if (raw && type.includes('urlencoded')) Object.assign(params, Object.fromEntries(new URLSearchParams(raw)));
        } catch {
          /* Telegram ignores an unparsable body; so do we */
        }
        resolve(params);
      });
    });

  /** An offset Telegram can act on: one beyond every id it issued means nothing to it. */
  const known = (offset?: number) => (offset !== undefined && offset > issuedMax + 1 && updates.length ? undefined : offset);
  const pendingFrom = (offset?: number) => {
    const o = known(offset);
    return updates.filter((u) => o === undefined || u.update_id >= o);
  };

  const answerPoll = () => {
    if (!poll) return;
    const ready = pendingFrom(poll.offset);
    if (!ready.length) return;
    const w = poll;
    poll = undefined;
    clearTimeout(w.timer);
    ok(w.res, w.call, ready.slice(0, 100));
  };

  const deliver = async () => {
    if (delivering || !fake.webhook) return;
    delivering = true;
    try {
      while (fake.webhook && updates.length && !closed) {
        const u = updates[0];
        const hook = fake.webhook;
        let status = 0;
        try {
          const r = await fetch(hook.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(hook.secret ? { 'x-telegram-bot-api-secret-token': hook.secret } : {}) },
            body: JSON.stringify(u),
          });
          status = r.status;
          await r.arrayBuffer();
        } catch {
          status = -1;
        }
        deliveries.push({ updateId: u.update_id, status });
        notify();
        if (status >= 200 && status < 300) updates.shift();
        else await new Promise((r) => setTimeout(r, 50)); // Telegram retries failed deliveries
      }
    } finally {
      delivering = false;
    }
  };

  const queue = (update: Record<string, unknown>): number => {
    if (update.update_id === undefined) update.update_id = nextUpdateId++;
    issuedMax = Math.max(issuedMax, update.update_id as number);
    updates.push(update);
    answerPoll();
    void deliver();
    notify();
    return update.update_id as number;
  };

  const autoEntities = (text: string) => {
    const entities: any[] = [];
    const cmd = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
    if (cmd) entities.push({ type: 'bot_command', offset: 0, length: cmd[0].length });
    const re = /(^|[^\w@])(@[A-Za-z][A-Za-z0-9_]{4,31})/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      entities.push({ type: 'mention', offset: m.index + m[1].length, length: m[2].length });
    }
    return entities;
  };

  const messageObject = (m: SentMessage) => ({
    message_id: m.messageId,
    from: bot,
    chat: chats.get(m.chatId) ?? { id: m.chatId, type: m.chatId > 0 ? 'private' : 'supergroup' },
    date: Math.floor(Date.now() / 1000),
    text: m.text,
    ...(m.threadId ? { message_thread_id: m.threadId } : {}),
  });

  const methods: Record<string, (p: Record<string, any>, res: http.ServerResponse, call: ApiCall, req: http.IncomingMessage) => void> = {
    getMe: (_p, res, call) => ok(res, call, { ...bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),
    getUpdates: (p, res, call, req) => {
      if (fake.webhook) {
        return error(res, call, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      }
      if (poll) {
        // Telegram: the newer request wins, the older one is told why.
        const old = poll;
        poll = undefined;
        clearTimeout(old.timer);
        error(old.res, old.call, 409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
      }
      const offset = known(p.offset !== undefined ? Number(p.offset) : undefined);
      if (offset !== undefined && offset > 0) {
        while (updates.length && updates[0].update_id < offset) updates.shift();
      }
      const ready = pendingFrom(offset);
      const timeout = Math.max(0, Number(p.timeout ?? 0));
      if (ready.length || timeout === 0) return ok(res, call, ready.slice(0, Number(p.limit ?? 100)));
      const w: Waiter = {
        res,
        offset,
        call,
        timer: setTimeout(() => {
          if (poll === w) poll = undefined;
          ok(res, call, []);
        }, timeout * 1000),
      };
      poll = w;
      // The client gave up (aborted): it is no longer a poller.
      res.on('close', () => {
        if (poll === w) {
          clearTimeout(w.timer);
          poll = undefined;
        }
      });
      void req;
    },
    sendMessage: (p, res, call) => {
      const chatId = Number(p.chat_id);
      const parsed = visible(p.text, p.parse_mode);
      if ('error' in parsed) return error(res, call, 400, parsed.error);
      const replyTo = p.reply_parameters ? Number(typeof p.reply_parameters === 'string' ? JSON.parse(p.reply_parameters).message_id : p.reply_parameters.message_id) : p.reply_to_message_id ? Number(p.reply_to_message_id) : undefined;
      const m: SentMessage = {
        chatId,
        messageId: newMessageId(chatId),
        text: parsed.text,
        raw: String(p.text),
        parseMode: p.parse_mode,
        history: [parsed.text],
        edits: 0,
        ...(replyTo ? { replyToMessageId: replyTo } : {}),
        ...(p.message_thread_id ? { threadId: Number(p.message_thread_id) } : {}),
      };
      messages.set(`${chatId}:${m.messageId}`, m);
      ok(res, call, messageObject(m));
    },
    editMessageText: (p, res, call) => {
      const m = messages.get(`${Number(p.chat_id)}:${Number(p.message_id)}`);
      if (!m) return error(res, call, 400, 'Bad Request: message to edit not found');
      const parsed = visible(p.text, p.parse_mode);
      if ('error' in parsed) return error(res, call, 400, parsed.error);
      if (parsed.text === m.text && String(p.text) === m.raw) {
        return error(res, call, 400, 'Bad Request: message is not modified: specified new message content and reply markup of a message are exactly the same as a current content and reply markup of the message');
      }
      m.text = parsed.text;
      m.raw = String(p.text);
      m.parseMode = p.parse_mode;
      m.history.push(parsed.text);
      m.edits++;
      ok(res, call, { ...messageObject(m), edit_date: Math.floor(Date.now() / 1000) });
    },
    deleteMessage: (p, res, call) => {
      const key = `${Number(p.chat_id)}:${Number(p.message_id)}`;
      const m = messages.get(key);
      if (!m) return error(res, call, 400, 'Bad Request: message to delete not found');
      messages.delete(key);
      fake.deleted.push(m);
      ok(res, call, true);
    },
    sendChatAction: (p, res, call) => {
      actions.push({ chatId: Number(p.chat_id), action: String(p.action), at: Date.now() });
      ok(res, call, true);
    },
    setWebhook: (p, res, call) => {
      if (!p.url) {
        fake.webhook = undefined;
        return ok(res, call, true);
      }
      if (!/^https?:\/\//.test(p.url)) return error(res, call, 400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
      fake.webhook = { url: String(p.url), ...(p.secret_token ? { secret: String(p.secret_token) } : {}) };
      if (poll) {
        const old = poll;
        poll = undefined;
        clearTimeout(old.timer);
        error(old.res, old.call, 409, 'Conflict: terminated by setWebhook request');
      }
      ok(res, call, true);
      void deliver();
    },
    deleteWebhook: (p, res, call) => {
      fake.webhook = undefined;
      if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') updates.length = 0;
      ok(res, call, true);
    },
    getWebhookInfo: (_p, res, call) => ok(res, call, { url: fake.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: updates.length }),
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    const params = await readParams(req, url);
    const call: ApiCall = { method: m?.[2] ?? url.pathname, params, at: Date.now(), answered: 0 };
    if (!m) return reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    calls.push(call);
    if (m[1] !== token) return error(res, call, 401, 'Unauthorized');
    const method = m[2];
    const i = failures.findIndex((f) => f.method === method || f.method === '*');
    if (i >= 0) {
      const { spec } = failures.splice(i, 1)[0];
      if (spec.drop || spec.reset) {
        call.answered = -1;
        if (spec.reset) req.socket.resetAndDestroy();
        else req.socket.destroy();
        notify();
        return;
      }
      if ('result' in spec) return ok(res, call, spec.result);
      if (spec.rawBody !== undefined) {
        call.answered = spec.code ?? 502;
        res.writeHead(spec.code ?? 502, { 'content-type': 'text/html' }).end(spec.rawBody);
        notify();
        return;
      }
      const code = spec.code ?? 500;
      const description = spec.description ?? (code === 429 ? `Too Many Requests: retry after ${spec.retryAfter ?? 1}` : code === 409 ? 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' : 'Internal Server Error');
      return error(res, call, code, description, code === 429 ? { retry_after: spec.retryAfter ?? 1 } : undefined);
    }
    const fn = methods[method];
    if (!fn) return error(res, call, 404, 'Not Found: method not found');
    fn(params, res, call, req);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = http.createServer((req, res) => {
        handle(req, res).catch((err) => reply(res, 500, { ok: false, error_code: 500, description: String(err) }));
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });

  const stop = async () => {
    if (poll) {
      clearTimeout(poll.timer);
      poll = undefined;
    }
    const s = server;
    server = undefined;
    if (!s) return;
    const closing = new Promise<void>((r) => s.close(() => r()));
    for (const sock of sockets) sock.destroy();
    await closing;
  };

  await listen();

  const fake: FakeTelegram = {
    get apiRoot() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    token,
    bot,
    user,
    dm,
    group,
    calls,
    actions,
    deleted: [],
    deliveries,
    webhook: undefined,
    userSays(text, o = {}) {
      const chat = o.chat ?? dm;
      chats.set(chat.id, chat);
      const from = o.from ?? user;
      const entities = o.entities ?? autoEntities(text);
      const message: any = {
        message_id: o.editOf ?? newMessageId(chat.id),
        from,
        chat,
        date: Math.floor(Date.now() / 1000),
      };
      if (o.editOf) message.edit_date = Math.floor(Date.now() / 1000);
      if (o.media) {
        if (o.media.photo) {
          message.photo = [
            { file_id: 'AgADsmall', file_unique_id: 's1', width: 90, height: 90, file_size: 1200 },
            { file_id: 'AgADlarge', file_unique_id: 'l1', width: 1280, height: 960, file_size: 98765 },
          ];
        }
        if (o.media.document) message.document = { file_id: 'BQADdoc', file_unique_id: 'd1', ...o.media.document };
        if (text) {
          message.caption = text;
          if (entities.length) message.caption_entities = entities;
        }
      } else {
        message.text = text;
        if (entities.length) message.entities = entities;
      }
      if (o.threadId) {
        message.message_thread_id = o.threadId;
        message.is_topic_message = true;
      }
      if (o.replyTo) {
        const target = messages.get(`${chat.id}:${o.replyTo}`);
        message.reply_to_message = target ? messageObject(target) : userMessages.get(`${chat.id}:${o.replyTo}`) ?? { message_id: o.replyTo, chat, date: message.date };
      }
      userMessages.set(`${chat.id}:${message.message_id}`, message);
      const update = o.editOf ? { edited_message: message } : { message };
      queue(update);
      return update;
    },
    injectUpdate: queue,
    sent: (chatId) => [...messages.values()].filter((m) => chatId === undefined || m.chatId === chatId),
    waitForSent(match, ms = 5000) {
      let found: SentMessage | undefined;
      return fake.waitFor(() => !!(found = fake.sent().find(match)), 'a matching sent message', ms).then(() => found!);
    },
    waitFor(cond, what, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!cond()) return;
          done();
          resolve();
        };
        const tick = setInterval(check, 20);
        const timer = setTimeout(() => {
          done();
          reject(new Error(`fake Telegram: timed out waiting for ${what}; last calls: ${calls.slice(-5).map((c) => `${c.method}=${c.answered}`).join(', ')}`));
        }, ms);
        const done = () => {
          clearInterval(tick);
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    fail(method, spec, times = 1) {
      for (let i = 0; i < times; i++) failures.push({ method, spec });
    },
    pending: () => updates.length,
    renumberUpdates(nextId) {
      nextUpdateId = nextId;
      issuedMax = nextId - 1;
    },
    activePolls: () => (poll ? 1 : 0),
    goAway: stop,
    comeBack: listen,
    async close() {
      closed = true;
      listeners.clear();
      await stop();
    },
  };
  return fake;
}

function visible(text: unknown, parseMode: unknown): { text: string } | { error: string } {
  if (typeof text !== 'string' || text.length === 0) return { error: 'Bad Request: message text is empty' };
  let out: { text: string } | { error: string } = { text };
  if (parseMode === 'HTML') out = parseTelegramHtml(text);
  else if (parseMode !== undefined && parseMode !== '') return { error: `Bad Request: unsupported parse_mode (this fake implements HTML only): ${String(parseMode)}` };
  if ('text' in out) {
    if (!out.text.trim()) return { error: 'Bad Request: message text is empty' };
    if (out.text.length > 4096) return { error: 'Bad Request: message is too long' };
  }
  return out;
}
