import assert from 'assert';
import { adaptUpdate, MalformedUpdateError, type BotIdentity } from '../../../../src/channels/telegram/inbound';
import { MAX_INBOUND_TEXT } from '../../../../src/envelope';

const me: BotIdentity = { id: 42, username: 'Claw_Bot' };
const ann = { id: 7, is_bot: false, first_name: 'Ann', username: 'ann' };
const group = { id: -100, type: 'supergroup', title: 'G' };

function msg(extra: Record<string, unknown>, chat: object = group) {
  return { update_id: 10, message: { message_id: 3, date: 1700000000, chat, from: ann, ...extra } };
}
function env(update: unknown) {
  const r = adaptUpdate(update, me);
  assert.strictEqual(r.kind, 'message', JSON.stringify(r));
  return (r as { envelope: any }).envelope;
}

describe('telegram inbound: update -> envelope', () => {
  it('a private message is direct and always mentioned', () => {
    const e = env(msg({ text: 'hi' }, { id: 7, type: 'private' }));
    assert.deepStrictEqual(
      [e.chatType, e.mentioned, e.chatId, e.senderId, e.account, e.text, e.timestamp],
      ['direct', true, '7', '7', '42', 'hi', 1700000000000],
    );
  });

  it('in groups: a mention entity of our username (any case) addresses the bot, of another does not', () => {
    assert.strictEqual(env(msg({ text: 'hey @claw_bot', entities: [{ type: 'mention', offset: 4, length: 9 }] })).mentioned, true);
    assert.strictEqual(env(msg({ text: 'hey @other_bot', entities: [{ type: 'mention', offset: 4, length: 10 }] })).mentioned, false);
    assert.strictEqual(env(msg({ text: 'plain talk' })).mentioned, false);
  });

  it('counts UTF-16 offsets for mentions after emoji', () => {
    const text = '😀😀 @Claw_Bot';
    assert.strictEqual(env(msg({ text, entities: [{ type: 'mention', offset: 5, length: 9 }] })).mentioned, true);
  });

  it('a text_mention of our id and a reply to our message address the bot', () => {
    assert.strictEqual(env(msg({ text: 'Claw look', entities: [{ type: 'text_mention', offset: 0, length: 4, user: { id: 42 } }] })).mentioned, true);
    const e = env(msg({ text: 'yes', reply_to_message: { message_id: 2, date: 1, chat: group, from: { id: 42, is_bot: true, first_name: 'Claw' }, text: 'Shall I?' } }));
    assert.strictEqual(e.mentioned, true);
    assert.deepStrictEqual(e.replyTo, { messageId: '2', fromBot: true, senderId: '42', text: 'Shall I?' });
  });

  it('commands: @ourbot is ours and a mention; @otherbot is neither; bare /cmd is a command but not a mention', () => {
    const ours = env(msg({ text: '/Help@claw_bot me please', entities: [{ type: 'bot_command', offset: 0, length: 14 }] }));
    assert.deepStrictEqual([ours.command, ours.mentioned], [{ name: 'help', args: 'me please' }, true]);
    const other = env(msg({ text: '/help@other_bot', entities: [{ type: 'bot_command', offset: 0, length: 15 }] }));
    assert.deepStrictEqual([other.command, other.mentioned], [undefined, false]);
    const bare = env(msg({ text: '/new', entities: [{ type: 'bot_command', offset: 0, length: 4 }] }));
    assert.deepStrictEqual([bare.command, bare.mentioned], [{ name: 'new', args: '' }, false]);
  });

  it('forum topics: threadId set, and the implicit reply to the topic start is not a reply', () => {
    const e = env(msg({ text: 'x', message_thread_id: 99, is_topic_message: true, reply_to_message: { message_id: 99, date: 1, chat: group } }));
    assert.strictEqual(e.threadId, '99');
    assert.strictEqual(e.replyTo, undefined);
  });

  it('media as metadata with the caption as text; edits flagged', () => {
    const e = env(msg({ caption: 'look', photo: [{ file_id: 's', file_size: 1 }, { file_id: 'big', file_size: 900 }] }));
    assert.strictEqual(e.text, 'look');
    assert.deepStrictEqual(e.attachments, [{ kind: 'image', id: 'big', size: 900, caption: 'look' }]);
    const d = env(msg({ document: { file_id: 'd', file_name: 'a.pdf', mime_type: 'application/pdf', file_size: 5 } }));
    assert.deepStrictEqual(d.attachments, [{ kind: 'document', id: 'd', name: 'a.pdf', mimeType: 'application/pdf', size: 5 }]);
    const ed = env({ update_id: 11, edited_message: { message_id: 3, date: 1, edit_date: 2, chat: group, from: ann, text: 'fixed' } });
    assert.deepStrictEqual([ed.edited, ed.timestamp], [true, 2000]);
  });

  it("an anonymous admin's message is a person's, from the group; a linked channel's post stays a bot's", () => {
    const stand_in = { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' };
    const e = env(msg({ text: '@Claw_Bot status?', entities: [{ type: 'mention', offset: 0, length: 9 }], from: stand_in, sender_chat: group, author_signature: 'Ops' }));
    assert.strictEqual(e.senderIsBot, false);
    assert.strictEqual(e.senderId, '-100');
    assert.strictEqual(e.senderName, 'Ops');
    assert.strictEqual(e.mentioned, true);
    const channelBot = { id: 136817688, is_bot: true, first_name: 'Channel', username: 'Channel_Bot' };
    const forwarded = env(msg({ text: 'post', from: channelBot, sender_chat: { id: -200, type: 'channel', title: 'News' }, is_automatic_forward: true }));
    assert.strictEqual(forwarded.senderIsBot, true);
  });

  it('skips service messages and other update types; flags bots', () => {
    assert.strictEqual(adaptUpdate(msg({ new_chat_members: [ann] }), me).kind, 'skip');
    assert.strictEqual(adaptUpdate({ update_id: 1, callback_query: {} }, me).kind, 'skip');
    assert.strictEqual(env(msg({ text: 'beep', from: { id: 9, is_bot: true, first_name: 'B' } })).senderIsBot, true);
  });

  it('a message without a sender is malformed, never "from the chat" (private chat or group)', () => {
    for (const chat of [{ id: 7, type: 'private' }, group]) {
      for (const from of [undefined, null, {}, { id: '7' }]) {
        const update = { update_id: 10, message: { message_id: 3, date: 1, chat, text: 'I am the owner', ...(from === undefined ? {} : { from }) } };
        assert.throws(() => adaptUpdate(update, me), /without a sender/, JSON.stringify(update));
      }
    }
    // A channel post has no sender by design: skipped as before, not an error.
    assert.strictEqual(adaptUpdate({ update_id: 1, message: { message_id: 1, date: 1, chat: { id: -5, type: 'channel' }, text: 'post' } }, me).kind, 'skip');
  });

  it('bounds a giant text, caption and quoted reply at MAX_INBOUND_TEXT and flags the cut', () => {
    const big = 'x'.repeat(100_000);
    const e = env(msg({ text: big, reply_to_message: { message_id: 2, date: 1, chat: group, from: ann, text: big } }, { id: 7, type: 'private' }));
    assert.strictEqual(e.text.length, MAX_INBOUND_TEXT);
    assert.strictEqual(MAX_INBOUND_TEXT, 16_384);
    assert.deepStrictEqual([e.truncated, e.extras.textLength], [true, 100_000]);
    assert.strictEqual(e.replyTo.text.length, MAX_INBOUND_TEXT);
    const c = env(msg({ caption: big, photo: [{ file_id: 'p' }] }));
    assert.deepStrictEqual([c.text.length, c.attachments[0].caption.length, c.truncated], [MAX_INBOUND_TEXT, MAX_INBOUND_TEXT, true]);
    // Never half an emoji at the cut; a text within the bound is whole and not flagged.
    const emoji = 'a' + '😀'.repeat(MAX_INBOUND_TEXT);
    const cut = env(msg({ text: emoji })).text;
    assert.strictEqual(cut.length, MAX_INBOUND_TEXT - 1);
    assert.ok(!/[\ud800-\udbff]$/.test(cut));
    const fine = env(msg({ text: 'y'.repeat(4096) }));
    assert.deepStrictEqual([fine.text.length, fine.truncated, fine.extras.textLength], [4096, undefined, undefined]);
  });

  it('throws MalformedUpdateError for broken shapes', () => {
    for (const bad of [null, {}, { update_id: 'x' }, { update_id: 1, message: { message_id: 1, date: 1, text: 'no chat' } }, msg({ text: 5 }), msg({ text: 'a', entities: 'x' })]) {
      assert.throws(() => adaptUpdate(bad, me), MalformedUpdateError, JSON.stringify(bad));
    }
  });
});
