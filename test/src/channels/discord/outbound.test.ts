import assert from 'assert';
import type { ChatEnvelope } from '../../../../src/envelope';
import type { DiscordConnection } from '../../../../src/channels/discord/connection';
import { DiscordOutbound } from '../../../../src/channels/discord/outbound';
import { classifyError } from '../../../../src/channels/discord/failures';
import { FakeDiscord } from '../../../fakes/discord-fake';
import { KeyValueDraftJournal } from '../../../../src/channels/draft-journal';
import { MemoryKeyValueStore } from '../../../../src/store/kv';
import { readyConnection, statusWhere } from './helpers';

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('discord outbound (REST through discord.js to the fake)', function () {
  let fake: FakeDiscord;
  let conn: DiscordConnection;
  let out: DiscordOutbound;

  const guildChat = (): ChatEnvelope => ({
    channel: 'discord', account: fake.bot.id, chatId: fake.channelId, chatType: 'group', groupId: fake.guildId,
    senderId: fake.alice.id, text: 'q', messageId: '123456789012345678', mentioned: true, attachments: [], timestamp: Date.now(),
  });
  const dmChat = (): ChatEnvelope => ({
    channel: 'discord', account: fake.bot.id, chatId: fake.dmChannelId(), chatType: 'direct',
    senderId: fake.alice.id, text: 'q', messageId: '123456789012345679', mentioned: true, attachments: [], timestamp: Date.now(),
  });

  beforeEach(async () => {
    fake = await FakeDiscord.start();
    ({ conn } = await readyConnection(fake));
    out = new DiscordOutbound({ editIntervalMs: 50, typingIntervalMs: 1000 });
  });
  afterEach(async () => {
    out.close();
    await conn.stop();
    await fake.close();
  });

  it('a short reply in a guild references the user\'s message and cannot ping everyone', async () => {
    const r = await out.deliver(conn.discord!.rest, guildChat(), 'Four.');
    assert.strictEqual(fake.sent.length, 1);
    assert.strictEqual(r.messageIds[0], fake.sent[0].id);
    assert.strictEqual(fake.sent[0].content, 'Four.');
    assert.strictEqual(fake.sent[0].channelId, fake.channelId);
    assert.deepStrictEqual(fake.sent[0].reference, { message_id: '123456789012345678', fail_if_not_exists: false });
    // Only the asker may be pinged: not @everyone, roles, or other users the model names.
    assert.deepStrictEqual(fake.sent[0].allowedMentions, { parse: [], users: [guildChat().senderId], replied_user: false });
  });

  it('a DM reply has no reply reference', async () => {
    await out.deliver(conn.discord!.rest, dmChat(), 'hi');
    assert.strictEqual(fake.sent[0].channelId, fake.dmChannelId());
    assert.strictEqual(fake.sent[0].reference, undefined);
  });

  it('splits a long reply under 2000 code points at paragraph boundaries, in order, reference on the first only', async () => {
    const paras = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} ` + '🙂 word '.repeat(60).trim());
    const text = paras.join('\n\n');
    await out.deliver(conn.discord!.rest, guildChat(), text);
    assert.ok(fake.sent.length >= 3, `parts: ${fake.sent.length}`);
    for (const s of fake.sent) assert.ok([...s.content].length <= 2000);
    assert.ok(fake.sent[0].reference);
    assert.ok(fake.sent.slice(1).every((s) => !s.reference));
    assert.strictEqual(fake.sent.map((s) => s.content).join('\n\n'), text);
    for (const s of fake.sent) assert.match(s.content, /^Paragraph \d+/);
  });

  it('streams: typing first, then one draft edited in place, the final edit with no duplicate message', async () => {
    const chat = guildChat();
    const rest = conn.discord!.rest;
    await out.deliver(rest, chat, '', { id: 's1', seq: 0, delta: '', done: false });
    await fake.until(() => fake.typing.length === 1);
    await out.deliver(rest, chat, 'Hello', { id: 's1', seq: 1, delta: 'Hello', done: false });
    await fake.until(() => fake.sent.length === 1);
    await out.deliver(rest, chat, 'Hello wor', { id: 's1', seq: 2, delta: ' wor', done: false });
    await fake.until(() => fake.edits.length === 1);
    const r = await out.deliver(rest, chat, 'Hello world.', { id: 's1', seq: 3, delta: 'ld.', done: true });
    assert.strictEqual(fake.sent.length, 1, 'the draft became the reply');
    assert.strictEqual(fake.typing[0], fake.channelId);
    assert.ok(fake.sent[0].reference, 'the draft carries the reply reference');
    assert.strictEqual(fake.edits.at(-1)!.content, 'Hello world.');
    assert.deepStrictEqual(r.messageIds, [fake.sent[0].id]);
    assert.strictEqual(out.activeStreams, 0);
  });

  it('a rate limit is waited out by discord.js\'s queue and shows in the connection status', async () => {
    fake.rateLimitNext(1, 300);
    const limited = statusWhere(conn, (s) => (s.rateLimitedMs ?? 0) > 0);
    await out.deliver(conn.discord!.rest, dmChat(), 'after the limit');
    const s = await limited;
    assert.ok(s.rateLimitedMs! > 0 && s.rateLimitedMs! <= 2000, String(s.rateLimitedMs));
    assert.strictEqual(fake.sent[0].content, 'after the limit');
    assert.deepStrictEqual(fake.requests.filter((r) => r.path.endsWith('/messages')).map((r) => r.status), [429, 200]);
    await statusWhere(conn, (x) => x.rateLimitedMs === undefined);
  });

  it('a failed send rejects with Discord\'s error, classified', async () => {
    const chat = { ...guildChat(), chatId: '1' };
    const err = await out.deliver(conn.discord!.rest, { ...chat }, '').then(() => null, (e) => e);
    assert.strictEqual(err, null, 'empty text sends nothing');
    fake.rejectToken();
    const e = await out.deliver(conn.discord!.rest, guildChat(), 'x').then(() => null, (x) => x);
    assert.ok(e, 'rejected');
    assert.strictEqual(classifyError(e).kind, 'token');
  });

  it('after a kill, the first delivery deletes the drafts the killed run left (a 404 one is dropped from the journal)', async () => {
    const kv = new MemoryKeyValueStore();
    // The killed run: one real half-written draft in the channel, one already gone.
    const killed = new KeyValueDraftJournal(kv);
    const stale = new DiscordOutbound({ editIntervalMs: 10, journal: killed });
    await stale.deliver(conn.discord!.rest, guildChat(), 'half an ans', { id: 'old', seq: 0, delta: 'half an ans', done: false });
    await waitFor(() => fake.sent.length === 1);
    stale.close(); // what kill -9 leaves: no abandon, the draft stays
    killed.opened(fake.channelId, '999999999999999999');
    await waitFor(async () => (await kv.keys()).length === 2);

    const next = new DiscordOutbound({ editIntervalMs: 10, journal: new KeyValueDraftJournal(kv) });
    try {
      await next.deliver(conn.discord!.rest, dmChat(), 'the full answer');
      await waitFor(async () => (await kv.keys()).length === 0).catch(async (e) => {
        throw new Error(`${e.message}: journal ${JSON.stringify(await kv.keys())}, deleted ${JSON.stringify(fake.deleted)}`);
      });
      assert.deepStrictEqual(fake.deleted, [fake.sent[0].id]);
      assert.strictEqual(fake.sent[1].content, 'the full answer');
    } finally {
      next.close();
    }
  });
});
