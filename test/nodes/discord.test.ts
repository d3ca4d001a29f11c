import assert from 'node:assert/strict';
import { helper } from '../support/node-red';
import { FakeDiscord } from '../fakes/discord-fake';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const botNode = require('../../nodes/discord-bot');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const inNode = require('../../nodes/discord-in');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const outNode = require('../../nodes/discord-out');

const catalog = {
  ...require('../../locales/en-US/discord-bot.json'),
  ...require('../../locales/en-US/discord-in.json'),
  ...require('../../locales/en-US/discord-out.json'),
};

/** The test helper's RED._ returns the key; give the nodes the real en-US texts instead. */
function translate(key: string, params: Record<string, unknown> = {}): string {
  const value = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), catalog);
  if (typeof value !== 'string') return key;
  return value.replace(/__(\w+)__/g, (_m, name) => (name in params ? String(params[name]) : `__${name}__`));
}
const withTexts = (mod: (RED: any) => void) => (RED: any) => {
  RED._ = translate;
  return mod(RED);
};
const NODES = [withTexts(botNode), withTexts(inNode), withTexts(outNode)];

function flow(fake: FakeDiscord, opts: { allowBots?: boolean; echo?: boolean } = {}) {
  return [
    { id: 'bot', type: 'clawflow-discord-bot', name: 'my bot', apiUrl: fake.apiUrl },
    { id: 'in', type: 'clawflow-discord-in', bot: 'bot', allowBots: !!opts.allowBots, wires: [opts.echo ? ['out', 'sink'] : ['sink']] },
    { id: 'out', type: 'clawflow-discord-out', bot: 'bot', replyInGuilds: true, wires: [] },
    { id: 'sink', type: 'helper' },
  ];
}

/** Resolve with the first status `node` shows that matches (statuses it showed before count too). */
function statusOf(node: any, match: (s: any) => boolean, ms = 8000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`status never matched; last ${JSON.stringify(last)}`)), ms);
    let last: any;
    const orig = node.status.bind(node);
    node.status = (s: any) => {
      last = s;
      orig(s);
      if (match(s)) {
        clearTimeout(timer);
        node.status = orig;
        resolve(s);
      }
    };
  });
}

/** What the runtime logged at `level` (20 error, 30 warn) for node `id`. */
function logged(id: string, level: number): string[] {
  return helper
    .log()
    .args.map((a: any[]) => a[0])
    .filter((e: any) => e && e.level === level && e.id === id)
    .map((e: any) => String(e.msg));
}

function nextMsg(sink: any, ms = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message reached the sink')), ms);
    sink.once('input', (msg: any) => {
      clearTimeout(t);
      resolve(msg);
    });
  });
}

/** Send `msg` into `node`; resolve with the error its handler passed to done (undefined on success). */
function inject(node: any, msg: any): Promise<Error | undefined> {
  msg._msgid = msg._msgid ?? Math.random().toString(16).slice(2);
  return new Promise((resolve) => {
    const orig = node._complete;
    node._complete = function (m: any, err: any) {
      if (m && m._msgid === msg._msgid) {
        node._complete = orig;
        resolve(err ? (err instanceof Error ? err : new Error(String(err))) : undefined);
      }
      return orig.call(node, m, err);
    };
    node.receive(msg);
  });
}

describe('discord nodes (real discord.js inside the nodes, fake Discord on 127.0.0.1)', function () {
  let fake: FakeDiscord;

  beforeEach(async () => {
    fake = await FakeDiscord.start();
    await new Promise<void>((r) => helper.startServer(r));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(r));
    await fake.close();
  });

  async function load(opts: { allowBots?: boolean; echo?: boolean } = {}, token?: string) {
    await helper.load(NODES, flow(fake, opts), { bot: { token: token ?? fake.token } });
    const nodes = { bot: helper.getNode('bot'), in: helper.getNode('in'), out: helper.getNode('out'), sink: helper.getNode('sink') };
    return nodes;
  }

  it('shows ready as the bot, then emits guild messages with mention from Discord\'s rules', async () => {
    const n = await load();
    await statusOf(n.in, (s) => s.text === 'ready as clawbot');
    let got = nextMsg(n.sink);
    fake.userMessage({ content: `<@${fake.bot.id}> hello there` });
    let msg = await got;
    assert.equal(msg.payload, 'hello there');
    assert.equal(msg.chat.channel, 'discord');
    assert.equal(msg.chat.chatType, 'group');
    assert.equal(msg.chat.mentioned, true);
    assert.equal(msg.chat.account, fake.bot.id);
    assert.equal(msg.chat.groupId, fake.guildId);
    got = nextMsg(n.sink);
    fake.userMessage({ content: 'no mention here' });
    msg = await got;
    assert.equal(msg.chat.mentioned, false);
    assert.equal(msg.payload, 'no mention here');
    // A bot's message is dropped by default: the next message the sink sees is the DM after it.
    got = nextMsg(n.sink);
    fake.userMessage({ author: fake.otherBot, content: `<@${fake.bot.id}> beep` });
    fake.userMessage({ dm: true, content: 'a DM' });
    msg = await got;
    assert.equal(msg.payload, 'a DM');
    assert.equal(msg.chat.chatType, 'direct');
    assert.equal(msg.chat.mentioned, true);
    assert.equal(msg.chat.chatId, fake.dmChannelId());
  });

  it('replies in the guild with a reply reference; the bot\'s own echo does not loop', async () => {
    const n = await load({ echo: true });
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const user = fake.userMessage({ content: `<@${fake.bot.id}> echo me` });
    await fake.until(() => fake.sent.length === 1);
    assert.equal(fake.sent[0].content, 'echo me');
    assert.equal(fake.sent[0].channelId, fake.channelId);
    assert.equal(fake.sent[0].reference?.message_id, user.id);
    // The gateway echoed the bot's message; had the in node passed it on, a second send would follow.
    fake.userMessage({ dm: true, content: 'second' });
    await fake.until(() => fake.sent.length === 2);
    assert.equal(fake.sent[1].content, 'second');
    assert.equal(fake.sent[1].reference, undefined, 'no reply reference in DMs');
  });

  it('splits a long payload in order and streams partials as one edited message', async () => {
    const n = await load();
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    const long = Array.from({ length: 5 }, (_, i) => `Part ${i}: ` + 'lorem ipsum '.repeat(60).trim()).join('\n\n');
    assert.equal(await inject(n.out, { payload: long, chat }), undefined);
    assert.ok(fake.sent.length >= 2);
    assert.ok(fake.sent.every((s) => [...s.content].length <= 2000));
    assert.equal(fake.sent.map((s) => s.content).join('\n\n'), long);
    const before = fake.sent.length;
    await inject(n.out, { payload: '', chat, stream: { id: 'r1', seq: 0, delta: '', done: false } });
    await fake.until(() => fake.typing.length === 1);
    await inject(n.out, { payload: 'Thinking', chat, stream: { id: 'r1', seq: 1, delta: 'Thinking', done: false } });
    await fake.until(() => fake.sent.length === before + 1);
    assert.equal(await inject(n.out, { payload: 'Thinking done.', chat, stream: { id: 'r1', seq: 2, delta: ' done.', done: true } }), undefined);
    assert.equal(fake.sent.length, before + 1, 'the final reply edited the draft, no duplicate');
    assert.equal(fake.edits.at(-1)?.content, 'Thinking done.');
  });

  it('a redeploy mid-stream deletes the unfinished draft', async () => {
    const n = await load();
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    await inject(n.out, { payload: 'Half an ans', chat, stream: { id: 'r9', seq: 0, delta: 'Half an ans', done: false } });
    await fake.until(() => fake.sent.length === 1);
    await inject(n.out, { payload: 'Half an answer', chat, stream: { id: 'r9', seq: 1, delta: 'swer', done: false } });
    await fake.until(() => fake.edits.length === 1);
    await helper.unload();
    assert.deepEqual(fake.deleted, [fake.sent[0].id], 'the half-written draft is gone');
  });

  it('bad input to discord out fails with a clear error (Catch nodes see it)', async () => {
    const n = await load();
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const e1 = await inject(n.out, { payload: 'x' });
    assert.match(String(e1?.message), /msg\.chat is missing/);
    const e2 = await inject(n.out, { payload: 'x', chat: { channel: 'telegram', account: '1', chatId: '2', chatType: 'direct', senderId: '3' } });
    assert.match(String(e2?.message), /not Discord/);
    const chat = { channel: 'discord', account: fake.bot.id, chatId: '999', chatType: 'direct', senderId: '3' };
    const e3 = await inject(n.out, { payload: 'x', chat });
    assert.match(String(e3?.message), /Discord does not know that channel|404/);
    assert.equal(fake.sent.length, 0);
  });

  it('resumes after a dropped socket: reconnecting, then ready, and the missed message arrives', async () => {
    const n = await load();
    await statusOf(n.in, (s) => s.text === 'ready as clawbot');
    const reconnecting = statusOf(n.in, (s) => s.text === 'reconnecting');
    fake.dropSocket();
    await reconnecting;
    const got = nextMsg(n.sink);
    fake.userMessage({ content: 'did you miss me?' });
    assert.equal((await got).payload, 'did you miss me?');
    assert.equal(fake.connections.at(-1)?.kind, 'resume');
  });

  it('a 401 token shows "token rejected" and logs the fix', async () => {
    fake.rejectToken();
    const n = await load();
    const s = await statusOf(n.in, (x) => x.fill === 'red');
    assert.equal(s.text, 'token rejected (401): check the bot token');
    assert.equal(fake.connections.length, 0);
  });

  it('4014 tells the user to enable the Message Content intent', async () => {
    fake.disallowIntents();
    const n = await load();
    const s = await statusOf(n.out, (x) => x.fill === 'red');
    assert.equal(s.text, 'enable the Message Content intent');
    const logged = (n.bot as any).describe({ kind: 'intents', code: 4014, detail: 'x', retryable: false });
    assert.match(logged, /Privileged Gateway Intents/);
  });

  it('redeploy: the old client is destroyed before the new one connects; nothing survives close', async () => {
    await load();
    await fake.until(() => fake.connections.some((c) => c.kind === 'identify'));
    await helper.unload();
    assert.equal(fake.openSockets, 0);
    await load();
    await fake.until(() => fake.connections.length === 2 && fake.connections[1].kind === 'identify');
    assert.ok(fake.gatewayLog.indexOf('close 1') < fake.gatewayLog.indexOf('open 2'), fake.gatewayLog.join(','));
    await helper.unload();
    // @discordjs/ws would reconnect 500 ms after an unplanned close; look again after that.
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(fake.connections.length, 2);
    assert.equal(fake.openSockets, 0);
  });

  it('a malformed MESSAGE_CREATE is skipped with one clear warning; Node-RED keeps running and answers the next message', async () => {
    const n = await load({ echo: true });
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const base = fake.userMessage({ dm: true, content: 'first' });
    await fake.until(() => fake.sent.length === 1);
    const escaped: unknown[] = [];
    const onEscape = (e: unknown) => escaped.push(e);
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
    try {
      // Each of these threw inside discord.js from the gateway dispatch: the process went down.
      fake.rawDispatch('MESSAGE_CREATE', { ...base, id: '1300000000000000001', content: 'x', author: null });
      fake.rawDispatch('MESSAGE_CREATE', { ...base, id: '1300000000000000002', content: 'y', interaction_metadata: 'x' });
      // No author at all: discord.js passes it on with author null, the in node skips it.
      const { author: _none, ...noAuthor } = base;
      fake.rawDispatch('MESSAGE_CREATE', { ...noAuthor, id: '1300000000000000003', content: 'z' });
      fake.userMessage({ dm: true, content: 'still there?' });
      await fake.until(() => fake.sent.length === 2);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onEscape);
      process.off('uncaughtException', onEscape);
    }
    assert.deepEqual(escaped.map(String), []);
    assert.equal(fake.sent[1].content, 'still there?');
    const botWarnings = logged('bot', 30);
    assert.equal(botWarnings.length, 2, botWarnings.join('\n'));
    assert.ok(botWarnings.every((w) => w.startsWith('skipped a malformed Discord MESSAGE_CREATE: ')), botWarnings.join('\n'));
    assert.deepEqual(logged('in', 30), ['skipped a malformed Discord MESSAGE_CREATE: the message has no author']);
    assert.deepEqual(logged('bot', 20), [], 'no "TypeError" error logged');
    assert.equal(fake.connections.length, 1);
  });

  it('one REST 401 on a reply: the bot shows "token rejected (401)", the out node fails with the fix, the next reply goes out', async () => {
    const n = await load({ echo: true });
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    fake.failNextSend(401);
    const red = statusOf(n.in, (s) => s.fill === 'red');
    const err = await inject(n.out, { payload: 'refused', chat });
    assert.match(String(err?.message), /Discord rejected the bot token \(401 .*\): check the bot token in config node 'my bot'/);
    assert.equal((await red).text, 'token rejected (401): check the bot token');
    // Before the fix @discordjs/rest had dropped the token: "Expected token to be set", no request.
    const green = statusOf(n.in, (s) => s.text === 'ready as clawbot');
    fake.userMessage({ dm: true, content: 'answer me' });
    await fake.until(() => fake.sent.length === 1);
    assert.equal(fake.sent[0].content, 'answer me');
    await green;
  });

  it('the out node\'s "send failed" status gives way to the bot\'s status once a reply goes out again', async () => {
    const n = await load();
    await statusOf(n.out, (s) => s.text === 'ready as clawbot');
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    fake.failNextSend(403);
    const red = statusOf(n.out, (s) => s.fill === 'red');
    assert.match(String((await inject(n.out, { payload: 'refused', chat }))?.message), /403/);
    assert.equal((await red).text, 'send failed: permission');
    // Nothing about the bot changed, so no broadcast comes: the out node itself must say so.
    const green = statusOf(n.out, (s) => s.text === 'ready as clawbot', 3000);
    assert.equal(await inject(n.out, { payload: 'fine now', chat }), undefined);
    await green;
  });

  it('a 100,000-character message reaches the flow cut to 16,384 characters with msg.chat.truncated', async () => {
    const n = await load();
    await statusOf(n.in, (s) => s.text === 'ready as clawbot');
    const got = nextMsg(n.sink);
    fake.userMessage({ dm: true, content: 'q'.repeat(100_000) });
    const msg = await got;
    assert.equal(msg.payload.length, 16_384);
    assert.equal(msg.chat.text.length, 16_384);
    assert.equal(msg.chat.truncated, true);
    const short = nextMsg(n.sink);
    fake.userMessage({ dm: true, content: 'short' });
    assert.equal((await short).chat.truncated, undefined);
  });

  it('a streamed partial before READY (a turn that outlived a redeploy) is skipped quietly; the final reply waits for READY and goes out', async () => {
    const release = fake.holdReady();
    const n = await load();
    await fake.until(() => fake.connections.some((c) => !!c.identify));
    assert.equal((n.bot as any).connection.status.state, 'connecting');
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    assert.equal(await inject(n.out, { payload: '', chat, stream: { id: 'r1', seq: 0, delta: '', done: false } }), undefined, 'no error for a partial');
    assert.deepEqual(logged('out', 20), []);
    // A final reply while still connecting (a turn resumed after a restart, answered before
    // READY) waits for READY. Before the fix it failed at once and the user got nothing.
    const final = inject(n.out, { payload: 'Done.', chat, stream: { id: 'r1', seq: 1, delta: 'Done.', done: true } });
    const plain = inject(n.out, { payload: 'plain', chat });
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(fake.sent.length, 0);
    release();
    assert.equal(await final, undefined);
    assert.equal(await plain, undefined);
    assert.deepEqual(fake.sent.map((m) => m.content).sort(), ['Done.', 'plain']);
  });

  it('a reply while the bot has failed for good (token rejected) is an error at once', async () => {
    fake.rejectToken();
    const n = await load();
    await statusOf(n.out, (s) => s.fill === 'red');
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    assert.match(String((await inject(n.out, { payload: 'x', chat }))?.message), /not connected \(token rejected/);
  });

  it('a reply waiting for READY ends with an error when the node closes (redeploy), no timer left', async () => {
    const release = fake.holdReady();
    const n = await load();
    await fake.until(() => fake.connections.some((c) => !!c.identify));
    const chat = { channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct', senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now() };
    const waiting = inject(n.out, { payload: 'x', chat });
    await new Promise((res) => setTimeout(res, 100));
    const closing = helper.unload();
    release(); // the bot's close waits for the login in flight
    assert.match(String((await waiting)?.message), /not connected/);
    await closing;
  });
});
