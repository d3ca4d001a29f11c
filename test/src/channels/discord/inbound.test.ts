import assert from 'assert';
import type { DiscordConnection } from '../../../../src/channels/discord/connection';
import { parseCommand, toEnvelope } from '../../../../src/channels/discord/inbound';
import { MAX_INBOUND_TEXT } from '../../../../src/envelope';
import { FakeDiscord } from '../../../fakes/discord-fake';
import { readyConnection, type Inbox } from './helpers';

describe('discord inbound envelopes (messages through real discord.js)', function () {
  let fake: FakeDiscord;
  let conn: DiscordConnection;
  let inbox: Inbox;

  before(async () => {
    fake = await FakeDiscord.start();
    ({ conn, inbox } = await readyConnection(fake));
  });
  after(async () => {
    await conn.stop();
    await fake.close();
  });

  const next = async (send: () => void) => {
    const p = inbox.next();
    send();
    return p;
  };

  it('a guild message that mentions the bot: mentioned, leading mention stripped, ids kept', async () => {
    const m = await next(() => fake.userMessage({ content: `<@${fake.bot.id}> what is 2+2?` }));
    const r = toEnvelope(m, fake.bot.id);
    assert.ok('envelope' in r);
    const e = r.envelope;
    assert.strictEqual(e.channel, 'discord');
    assert.strictEqual(e.account, fake.bot.id);
    assert.strictEqual(e.chatType, 'group');
    assert.strictEqual(e.chatId, fake.channelId);
    assert.strictEqual(e.groupId, fake.guildId);
    assert.strictEqual(e.threadId, undefined);
    assert.strictEqual(e.mentioned, true);
    assert.strictEqual(e.text, 'what is 2+2?');
    assert.strictEqual(e.senderId, fake.alice.id);
    assert.strictEqual(e.senderName, 'Alice');
    assert.strictEqual(e.senderIsBot, false);
    assert.strictEqual(e.messageId, m.id);
    assert.strictEqual(e.extras?.channelName, 'general');
    assert.ok(Math.abs(e.timestamp - Date.now()) < 60_000);
  });

  it('a guild message without a mention is not mentioned; a mention elsewhere stays in the text', async () => {
    const plain = toEnvelope(await next(() => fake.userMessage({ content: 'just chatting' })), fake.bot.id);
    assert.ok('envelope' in plain && plain.envelope.mentioned === false);
    const mid = toEnvelope(await next(() => fake.userMessage({ content: `hey <@!${fake.bot.id}> there` })), fake.bot.id);
    assert.ok('envelope' in mid);
    assert.strictEqual(mid.envelope.mentioned, true);
    assert.strictEqual(mid.envelope.text, `hey <@!${fake.bot.id}> there`);
  });

  it('a mention of the bot\'s own managed role (what Discord\'s autocomplete often picks) counts as a mention', async () => {
    const m = await next(() => fake.userMessage({ content: `<@&${fake.botRoleId}> are you there?` }));
    const r = toEnvelope(m, fake.bot.id);
    assert.ok('envelope' in r);
    assert.strictEqual(r.envelope.mentioned, true);
    assert.strictEqual(r.envelope.text, 'are you there?');
    const other = toEnvelope(await next(() => fake.userMessage({ content: `<@&${fake.guildId}> everyone` })), fake.bot.id);
    assert.ok('envelope' in other && other.envelope.mentioned === false);
  });

  it('a reply to one of the bot\'s messages counts as a mention', async () => {
    // The bot posts (through REST, as it would), the user replies to that message.
    const sent = (await conn.discord!.rest.post(`/channels/${fake.channelId}/messages`, { body: { content: 'I am the bot' } })) as { id: string };
    await inbox.next(); // the gateway echo of the bot's own message
    const m = await next(() => fake.userMessage({ content: 'thanks', replyTo: sent.id }));
    const r = toEnvelope(m, fake.bot.id);
    assert.ok('envelope' in r);
    assert.strictEqual(r.envelope.mentioned, true);
    assert.deepStrictEqual(r.envelope.replyTo, { messageId: sent.id, senderId: fake.bot.id, fromBot: true, text: 'I am the bot' });
  });

  it('a DM is direct and always mentioned', async () => {
    const m = await next(() => fake.userMessage({ dm: true, content: '/new fresh start' }));
    const r = toEnvelope(m, fake.bot.id);
    assert.ok('envelope' in r);
    assert.strictEqual(r.envelope.chatType, 'direct');
    assert.strictEqual(r.envelope.chatId, fake.dmChannelId());
    assert.strictEqual(r.envelope.groupId, undefined);
    assert.strictEqual(r.envelope.mentioned, true);
    assert.deepStrictEqual(r.envelope.command, { name: 'new', args: 'fresh start' });
  });

  it('a thread message keeps the thread as chat and the parent channel in extras', async () => {
    const m = await next(() => fake.userMessage({ channelId: fake.threadId, content: `<@${fake.bot.id}> in a thread` }));
    const r = toEnvelope(m, fake.bot.id);
    assert.ok('envelope' in r);
    assert.strictEqual(r.envelope.chatId, fake.threadId);
    assert.strictEqual(r.envelope.threadId, fake.threadId);
    assert.strictEqual(r.envelope.extras?.parentChannelId, fake.channelId);
    // The route filter admits a thread of a listed channel through this.
    assert.strictEqual(r.envelope.parentChatId, fake.channelId);
  });

  it('a DM whose MESSAGE_CREATE has no channel_type (uncached DM channel) still arrives as a direct message', async () => {
    const tpl = fake.userMessage({ dm: true, content: 'template' });
    await inbox.next();
    const { channel_type: _none, ...noType } = tpl;
    const stranger = { id: '1300000000000000077', username: 'stranger', global_name: null, discriminator: '0', avatar: null };
    const p = inbox.next(1500);
    fake.rawDispatch('MESSAGE_CREATE', { ...noType, id: '1300000000000000078', channel_id: '1300000000000000079', author: stranger, content: 'hello?' });
    const r = toEnvelope(await p, fake.bot.id);
    assert.ok('envelope' in r);
    assert.strictEqual(r.envelope.chatType, 'direct');
    assert.strictEqual(r.envelope.chatId, '1300000000000000079');
    assert.strictEqual(r.envelope.senderId, stranger.id);
  });

  it('attachments come as metadata', async () => {
    const m = await next(() =>
      fake.userMessage({ content: 'look', attachments: [{ id: '42', filename: 'cat.png', content_type: 'image/png', size: 1234 }, { filename: 'notes.txt', size: 9 }] }),
    );
    const r = toEnvelope(m, fake.bot.id);
    assert.ok('envelope' in r);
    assert.deepStrictEqual(r.envelope.attachments[0], { kind: 'image', id: '42', url: 'https://cdn.discordapp.com/attachments/cat.png', name: 'cat.png', size: 1234, mimeType: 'image/png' });
    assert.strictEqual(r.envelope.attachments[1].kind, 'document');
    assert.strictEqual(r.envelope.attachments[1].name, 'notes.txt');
  });

  it('drops the bot\'s own messages always, other bots unless allowed', async () => {
    const own = await next(() => void conn.discord!.rest.post(`/channels/${fake.channelId}/messages`, { body: { content: 'echo' } }));
    assert.deepStrictEqual(toEnvelope(own, fake.bot.id), { skipped: 'own' });
    assert.deepStrictEqual(toEnvelope(own, fake.bot.id, { allowBots: true }), { skipped: 'own' });
    const other = await next(() => fake.userMessage({ author: fake.otherBot, content: `<@${fake.bot.id}> beep` }));
    assert.deepStrictEqual(toEnvelope(other, fake.bot.id), { skipped: 'bot' });
    const allowed = toEnvelope(other, fake.bot.id, { allowBots: true });
    assert.ok('envelope' in allowed && allowed.envelope.senderIsBot === true && allowed.envelope.mentioned);
  });

  it('a webhook message counts as a bot message (webhook_id), even when its author has no bot flag', async () => {
    const tpl = fake.userMessage({ content: 'template' });
    await inbox.next();
    const hook = { id: '650000000000000001', username: 'Captain Hook', discriminator: '0000', avatar: null };
    const m = await next(() =>
      fake.rawDispatch('MESSAGE_CREATE', { ...tpl, id: '1200000000000000002', webhook_id: hook.id, author: hook, content: `<@${fake.bot.id}> deploy done`, mentions: [fake.bot] }),
    );
    assert.deepStrictEqual(toEnvelope(m, fake.bot.id), { skipped: 'bot' });
    const allowed = toEnvelope(m, fake.bot.id, { allowBots: true });
    assert.ok('envelope' in allowed && allowed.envelope.senderIsBot === true);
  });

  it('parses plain-text commands', () => {
    assert.deepStrictEqual(parseCommand('/Pair@clawbot approve ABC'), { name: 'pair', args: 'approve ABC' });
    assert.deepStrictEqual(parseCommand('/reset'), { name: 'reset', args: '' });
    assert.strictEqual(parseCommand('not /a command'), undefined);
    assert.strictEqual(parseCommand('/'), undefined);
  });

  it('a MESSAGE_CREATE with no author is skipped as malformed (no TypeError)', async () => {
    const { author: _none, ...noAuthor } = fake.userMessage({ content: 'template' });
    await inbox.next();
    const m = await next(() => fake.rawDispatch('MESSAGE_CREATE', { ...noAuthor, id: '1200000000000000001', content: 'who am I?' }));
    assert.strictEqual(m.author, null, 'discord.js passes it on with author null');
    const r = toEnvelope(m, fake.bot.id);
    assert.deepStrictEqual(r, { skipped: 'malformed', problem: 'no-author' });
  });

  it('text over MAX_INBOUND_TEXT is cut there (not inside a surrogate pair) and marked truncated', async () => {
    const huge = `<@${fake.bot.id}> ` + 'a'.repeat(MAX_INBOUND_TEXT - 1) + '😀' + 'b'.repeat(100_000);
    const r = toEnvelope(await next(() => fake.userMessage({ content: huge })), fake.bot.id);
    assert.ok('envelope' in r);
    assert.strictEqual(r.envelope.text, 'a'.repeat(MAX_INBOUND_TEXT - 1), 'the emoji would straddle the bound: it goes whole');
    assert.strictEqual(r.envelope.truncated, true);
    assert.strictEqual(r.envelope.mentioned, true);
    const big = 'c'.repeat(100_000);
    const r2 = toEnvelope(await next(() => fake.userMessage({ content: big })), fake.bot.id);
    assert.ok('envelope' in r2);
    assert.strictEqual(r2.envelope.text.length, MAX_INBOUND_TEXT);
    assert.strictEqual(r2.envelope.truncated, true);
    assert.strictEqual(r2.envelope.extras?.textLength, 100_000);
    const fits = toEnvelope(await next(() => fake.userMessage({ content: 'd'.repeat(4000) })), fake.bot.id);
    assert.ok('envelope' in fits);
    assert.strictEqual(fits.envelope.text.length, 4000, "Discord's own longest message is never cut");
    assert.strictEqual(fits.envelope.truncated, undefined);
  });
});
