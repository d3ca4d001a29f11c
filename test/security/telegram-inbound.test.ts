import assert from 'assert';
import { adaptUpdate, MalformedUpdateError, type BotIdentity } from '../../src/channels/telegram/inbound';
import { MAX_INBOUND_TEXT } from '../../src/envelope';

const me: BotIdentity = { id: 42, username: 'Claw_Bot' };
const ann = { id: 7, is_bot: false, first_name: 'Ann', username: 'ann' };
const group = { id: -100, type: 'supergroup', title: 'G' };
const msg = (extra: Record<string, unknown>, chat: object = group) => ({ update_id: 10, message: { message_id: 3, date: 1700000000, chat, from: ann, ...extra } });

describe('security: hostile Telegram updates', () => {
  it('entities with offsets beyond the text (or negative, or huge) address nobody and do not throw', () => {
    for (const entities of [
      [{ type: 'mention', offset: 500, length: 9 }],
      [{ type: 'mention', offset: -5, length: 9 }],
      [{ type: 'bot_command', offset: 0, length: 1e9 }],
      [{ type: 'text_mention', offset: 2 ** 31, length: 2 ** 31, user: { id: 42 } }],
    ]) {
      const r = adaptUpdate(msg({ text: 'hi', entities }), me);
      assert.ok(r.kind === 'message' || r.kind === 'skip');
      if (r.kind === 'message' && entities[0].type === 'mention') assert.strictEqual(r.envelope.mentioned, false);
    }
    const cap = adaptUpdate(msg({ photo: [], caption: 'look', caption_entities: [{ type: 'mention', offset: 40, length: 9 }] }), me);
    assert.ok(cap.kind === 'message' && cap.envelope.mentioned === false);
  });

  it('entities that are not objects are a malformed update (reported), not a crash', () => {
    assert.throws(() => adaptUpdate(msg({ text: 'hi', entities: [null] }), me), MalformedUpdateError);
    assert.throws(() => adaptUpdate(msg({ text: 'hi', entities: 'x' }), me), MalformedUpdateError);
  });

  it('unknown update types are skipped with a reason', () => {
    for (const u of [{ update_id: 11, poll: { id: 'p' } }, { update_id: 12, chat_boost: {} }, { update_id: 13, something_new: { a: 1 } }]) {
      const r = adaptUpdate(u, me);
      assert.strictEqual(r.kind, 'skip', JSON.stringify(u));
    }
  });

  it('a giant text is cut at the inbound bound and marked, prototype keys stay data', () => {
    const text = 'z'.repeat(1_000_000);
    const r = adaptUpdate(msg({ text }, { id: 7, type: 'private' }), me);
    assert.ok(r.kind === 'message');
    assert.strictEqual(r.envelope.text.length, MAX_INBOUND_TEXT);
    assert.strictEqual(r.envelope.truncated, true);
    const hostile = JSON.parse('{"update_id": 14, "message": {"message_id": 1, "date": 1, "chat": {"id": 7, "type": "private"}, "from": {"id": 7, "first_name": "x", "__proto__": {"polluted": 1}}, "text": "hi"}}');
    adaptUpdate(hostile, me);
    assert.strictEqual(({} as Record<string, unknown>).polluted, undefined);
  });
});
