import assert from 'assert';
import { DiscordConnection, type DiscordStatus } from '../../../../src/channels/discord/connection';
import { FakeDiscord } from '../../../fakes/discord-fake';
import { DiscordOutbound } from '../../../../src/channels/discord/outbound';
import { classifyError } from '../../../../src/channels/discord/failures';
import type { ChatEnvelope } from '../../../../src/envelope';
import { readyConnection, statusWhere } from './helpers';

describe('discord connection (real discord.js against the fake gateway)', function () {
  let fake: FakeDiscord;
  let conn: DiscordConnection | undefined;

  beforeEach(async () => {
    fake = await FakeDiscord.start();
  });
  afterEach(async () => {
    await conn?.stop();
    conn = undefined;
    await fake.close();
  });

  it('logs in through GET /gateway/bot, identifies with the needed intents and reports ready as the bot', async () => {
    const seen: DiscordStatus[] = [];
    conn = new DiscordConnection({ token: fake.token, apiUrl: fake.apiUrl });
    conn.on('status', (s: DiscordStatus) => seen.push(s));
    conn.start();
    const ready = await statusWhere(conn, (s) => s.state === 'ready');
    assert.strictEqual(ready.botName, 'clawbot');
    assert.strictEqual(ready.botId, fake.bot.id);
    assert.strictEqual(seen[0].state, 'connecting');
    assert.ok(fake.requests.some((r) => r.path === '/gateway/bot' && r.status === 200));
    const identify = fake.connections[0].identify!;
    // Guilds | GuildMessages | DirectMessages | MessageContent
    assert.strictEqual(identify.intents, (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15));
    assert.ok(fake.connections[0].url.startsWith('/gateway?v=10&encoding=json'), fake.connections[0].url);
  });

  it('resumes on resume_gateway_url after a dropped socket and gets the message it missed', async () => {
    const r = await readyConnection(fake);
    conn = r.conn;
    const states: string[] = [];
    conn.on('status', (s: DiscordStatus) => states.push(s.state));
    fake.dropSocket();
    fake.userMessage({ content: 'sent while the socket was down' });
    const missed = await r.inbox.next();
    assert.strictEqual(missed.content, 'sent while the socket was down');
    assert.strictEqual(fake.connections.length, 2);
    assert.strictEqual(fake.connections[1].kind, 'resume');
    assert.ok(fake.connections[1].url.startsWith('/resume?'), fake.connections[1].url);
    await statusWhere(conn, (s) => s.state === 'ready');
    assert.ok(states.includes('reconnecting'), `states: ${states}`);
  });

  it('a token Discord rejects on REST (401) fails for good and says so', async () => {
    fake.rejectToken();
    conn = new DiscordConnection({ token: fake.token, apiUrl: fake.apiUrl, retryBaseMs: 10 });
    conn.start();
    const s = await statusWhere(conn, (x) => x.state === 'failed');
    assert.strictEqual(s.failure?.kind, 'token');
    assert.strictEqual(s.failure?.retryable, false);
    assert.strictEqual(fake.connections.length, 0, 'never opened the gateway');
    assert.ok(!JSON.stringify(s).includes(fake.token), 'the token never shows in the status');
  });

  it('gateway close 4004 (authentication failed) fails with kind token and does not reconnect', async () => {
    // REST accepts this token, the gateway does not: a token for another app, say.
    fake.rejectToken('gateway');
    conn = new DiscordConnection({ token: fake.token, apiUrl: fake.apiUrl });
    conn.start();
    const s = await statusWhere(conn, (x) => x.state === 'failed');
    assert.strictEqual(s.failure?.kind, 'token');
    assert.strictEqual(s.failure?.code, 4004);
    assert.strictEqual(fake.connections.length, 1);
  });

  it('gateway close 4014 (disallowed intents) fails with kind intents', async () => {
    fake.disallowIntents();
    conn = new DiscordConnection({ token: fake.token, apiUrl: fake.apiUrl });
    conn.start();
    const s = await statusWhere(conn, (x) => x.state === 'failed');
    assert.strictEqual(s.failure?.kind, 'intents');
    assert.strictEqual(s.failure?.code, 4014);
    await fake.until(() => fake.openSockets === 0);
  });

  it('retries the login with backoff while Discord is unreachable', async () => {
    const port = new URL(fake.apiUrl).port;
    await fake.close();
    conn = new DiscordConnection({ token: 't', apiUrl: `http://127.0.0.1:${port}/api`, retryBaseMs: 20, retryMaxMs: 40 });
    const failures: string[] = [];
    conn.on('status', (s: DiscordStatus) => s.failure && failures.push(s.failure.kind));
    conn.start();
    await statusWhere(conn, (s) => s.state === 'reconnecting' && s.failure?.kind === 'network');
    await statusWhere(conn, () => failures.length >= 3);
    await conn.stop();
    assert.strictEqual(conn.status.state, 'stopped');
    conn = undefined;
    fake = await FakeDiscord.start(); // for afterEach
  });

  it('stop() closes the socket, and no reconnect follows', async () => {
    const r = await readyConnection(fake);
    await r.conn.stop();
    assert.strictEqual(r.conn.status.state, 'stopped');
    await fake.until(() => fake.openSockets === 0);
    // @discordjs/ws reconnects 500 ms after an unplanned close; wait past that and look again.
    await new Promise((res) => setTimeout(res, 800));
    assert.strictEqual(fake.connections.length, 1);
    assert.strictEqual(fake.openSockets, 0);
  });

  it('stop() while Discord is unreachable and the shard is between reconnects: no gateway session comes back later', async () => {
    const r = await readyConnection(fake);
    const port = Number(new URL(fake.apiUrl).port);
    const token = fake.token;
    await fake.close(); // the socket drops; @discordjs/ws retries every ~500 ms, idle in between
    await new Promise((res) => setTimeout(res, 1200));
    await r.conn.stop();
    fake = await FakeDiscord.start({ port, token });
    // Before the fix the old client's sleeping reconnect loop connected and identified again.
    await new Promise((res) => setTimeout(res, 2500));
    assert.strictEqual(fake.connections.length, 0, `connections after stop: ${fake.gatewayLog.join(', ')}`);
  });

  it('a gateway outage (REST up): each failed login attempt leaves no client behind; one session when it is back', async () => {
    fake.refuseGateway(true);
    conn = new DiscordConnection({ token: fake.token, apiUrl: fake.apiUrl, retryBaseMs: 100, retryMaxMs: 200 });
    conn.start();
    await fake.until(() => fake.refusedUpgrades >= 6, 8000);
    fake.refuseGateway(false);
    await statusWhere(conn, (s) => s.state === 'ready', 8000);
    // Before the fix every failed attempt's shard kept its own reconnect loop: one more session each.
    await new Promise((res) => setTimeout(res, 1500));
    assert.strictEqual(fake.openSockets, 1, fake.gatewayLog.join(', '));
    assert.strictEqual(fake.connections.filter((c) => c.kind === 'identify').length, 1);
  });

  it('answers heartbeats with ACKs (short interval)', async () => {
    await fake.close();
    fake = await FakeDiscord.start({ heartbeatIntervalMs: 100 });
    const r = await readyConnection(fake);
    conn = r.conn;
    await fake.until(() => fake.heartbeats >= 2);
    assert.strictEqual(conn.status.state, 'ready', 'ACKed heartbeats keep the connection (no zombie reconnect)');
    assert.strictEqual(fake.connections.length, 1);
  });

  it('a malformed MESSAGE_CREATE (author null, interaction_metadata a string) is reported and skipped; the client keeps running', async () => {
    const r = await readyConnection(fake);
    conn = r.conn;
    const malformed: { event: string; detail: string }[] = [];
    conn.on('malformed', (m: { event: string; detail: string }) => malformed.push(m));
    const base = fake.userMessage({ content: 'a good one' });
    assert.strictEqual((await r.inbox.next()).content, 'a good one');
    // Before the fix discord.js threw inside Message._patch from the gateway dispatch, an
    // unhandled rejection, which ends a Node.js process (and Node-RED with it).
    const escaped: unknown[] = [];
    const onEscape = (e: unknown) => escaped.push(e);
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
    try {
      fake.rawDispatch('MESSAGE_CREATE', { ...base, id: '1100000000000000001', author: null });
      fake.rawDispatch('MESSAGE_CREATE', { ...base, id: '1100000000000000002', interaction_metadata: 'x' });
      fake.userMessage({ content: 'still listening?' });
      assert.strictEqual((await r.inbox.next()).content, 'still listening?');
      await new Promise((res) => setImmediate(res));
    } finally {
      process.off('unhandledRejection', onEscape);
      process.off('uncaughtException', onEscape);
    }
    assert.deepStrictEqual(escaped.map(String), [], 'nothing escaped to the process');
    assert.strictEqual(malformed.length, 2, JSON.stringify(malformed));
    assert.ok(malformed.every((m) => m.event === 'MESSAGE_CREATE' && m.detail.length > 0), JSON.stringify(malformed));
    assert.strictEqual(conn.status.state, 'ready');
    assert.strictEqual(fake.connections.length, 1, 'no reconnect either');
  });

  it('one REST 401 on a send is reported as a token problem, and the next send works again', async () => {
    const r = await readyConnection(fake);
    conn = r.conn;
    const out = new DiscordOutbound();
    const chat: ChatEnvelope = {
      channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct',
      senderId: fake.alice.id, text: 'q', mentioned: true, attachments: [], timestamp: Date.now(),
    };
    fake.failNextSend(401);
    const err = await out.deliver(conn.discord!.rest, chat, 'first').then(() => undefined, (e: unknown) => e);
    assert.strictEqual(classifyError(err).kind, 'token');
    const s = await statusWhere(conn, (x) => x.restFailure?.kind === 'token');
    assert.strictEqual(s.state, 'ready');
    assert.strictEqual(s.restFailure?.code, 401);
    // @discordjs/rest forgets the token after a 401; before the fix this failed with
    // "Expected token to be set for this request" and never reached the fake.
    await out.deliver(conn.discord!.rest, chat, 'second');
    assert.deepStrictEqual(fake.sent.map((m) => m.content), ['second']);
    assert.strictEqual(conn.status.restFailure, undefined, 'a send that works clears the warning');
    out.close();
  });
});
