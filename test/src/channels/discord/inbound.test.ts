import assert from 'assert';
import type { DiscordConnection } from '../../../../src/channels/discord/connection';
import { parseCommand, toEnvelope } from '../../../../src/channels/discord/inbound';
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

  it('parses plain-text commands', () => {
    assert.deepStrictEqual(parseCommand('/Pair@clawbot approve ABC'), { name: 'pair', args: 'approve ABC' });
    assert.deepStrictEqual(parseCommand('/reset'), { name: 'reset', args: '' });
    assert.strictEqual(parseCommand('not /a command'), undefined);
    assert.strictEqual(parseCommand('/'), undefined);
  });
});
