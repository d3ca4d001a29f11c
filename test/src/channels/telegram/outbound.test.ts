/**
 * Sending when the connection drops: real grammY against the fake Bot API, which hangs up or
 * resets the first connections of a method. The reply is sent again and arrives once; after
 * the last try the error says so (without the token); a close cuts the waiting short.
 */
import assert from 'assert';
import { Bot } from 'grammy';
import { startFakeTelegram, type FakeTelegram } from '../../../fakes/telegram-bot-api';
import { TelegramOutbound } from '../../../../src/channels/telegram/outbound';
import { TelegramClient } from '../../../../src/channels/telegram/client';
import { MemoryKeyValueStore } from '../../../../src/store/kv';

describe('telegram outbound: dropped connections', () => {
  let tg: FakeTelegram;
  beforeEach(async () => {
    tg = await startFakeTelegram();
  });
  afterEach(() => tg.close());

  function outbound(signal?: AbortSignal) {
    const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
    return new TelegramOutbound(bot.api, { networkBackoff: { initialMs: 20, maxMs: 50 }, ...(signal ? { signal } : {}) });
  }
  const to = () => ({ chatId: String(tg.dm.id) });
  const calls = (method: string) => tg.calls.filter((c) => c.method === method);

  it('sendMessage: a reset and a hang-up, then the third try is sent, once', async () => {
    tg.fail('sendMessage', { reset: true });
    tg.fail('sendMessage', { drop: true });
    const id = await outbound().send(to(), 'hello');
    assert.deepStrictEqual(tg.sent(tg.dm.id).map((m) => [String(m.messageId), m.text]), [[id, 'hello']]);
    assert.deepStrictEqual(calls('sendMessage').map((c) => c.answered), [-1, -1, 0]);
  });

  it('sendMessage: dropped every time, fails after 4 tries with a clear message and no token', async () => {
    tg.fail('sendMessage', { reset: true }, 10);
    const err: any = await outbound().send(to(), 'hello').then(
      () => assert.fail('should have failed'),
      (e: unknown) => e,
    );
    assert.strictEqual(err.name, 'TelegramError');
    assert.match(err.message, /^Telegram sendMessage failed after 4 attempts, the connection dropped each time: .*(ECONNRESET|socket hang up)/);
    assert.ok(!err.message.includes(tg.token.split(':')[1]), err.message);
    assert.strictEqual(calls('sendMessage').length, 4);
  });

  it('a close during the wait between tries ends it at once', async () => {
    const ctl = new AbortController();
    const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
    const out = new TelegramOutbound(bot.api, { networkBackoff: { initialMs: 60_000, maxMs: 60_000 }, signal: ctl.signal });
    tg.fail('sendMessage', { drop: true }, 10);
    const sending = out.send(to(), 'hello');
    await tg.waitFor(() => calls('sendMessage').length === 1, 'the first try');
    const t0 = Date.now();
    ctl.abort(new Error('closed'));
    await assert.rejects(sending, /sendMessage failed/);
    assert.ok(Date.now() - t0 < 1000, 'did not sit out the backoff');
    assert.strictEqual(calls('sendMessage').length, 1);
  });

  it('editMessageText and deleteMessage are tried again too', async () => {
    const out = outbound();
    const id = await out.send(to(), 'draft');
    tg.fail('editMessageText', { drop: true });
    await out.edit(to(), id, 'final');
    assert.strictEqual(tg.sent(tg.dm.id)[0].text, 'final');
    tg.fail('deleteMessage', { reset: true });
    await out.draftOps(to(), 'plain').remove!(id);
    assert.strictEqual(tg.sent(tg.dm.id).length, 0);
    assert.deepStrictEqual(calls('deleteMessage').map((c) => c.answered), [-1, 0]);
  });

  it('a 500 from the Bot API is tried again: the reply arrives once', async () => {
    tg.fail('sendMessage', { code: 500, description: 'Internal Server Error' });
    const id = await outbound().send(to(), 'hello');
    assert.deepStrictEqual(tg.sent(tg.dm.id).map((m) => [String(m.messageId), m.text]), [[id, 'hello']]);
    assert.strictEqual(calls('sendMessage').length, 2);
  });

  it('a 502 every time fails after 4 tries and says Telegram answered 502', async () => {
    tg.fail('sendMessage', { code: 502, description: 'Bad Gateway' }, 10);
    await assert.rejects(outbound().send(to(), 'x'), /^TelegramError: Telegram sendMessage failed after 4 attempts, Telegram answered 502 each time: Bad Gateway$/);
    assert.strictEqual(calls('sendMessage').length, 4);
  });

  it('typing is not waited out or tried again: a 429 skips that one (no "typing…" after the reply)', async () => {
    tg.fail('sendChatAction', { code: 429, retryAfter: 1 });
    tg.fail('sendChatAction', { drop: true });
    const out = outbound();
    await out.typing(to());
    await assert.rejects(out.typing(to()), /sendChatAction failed/);
    await new Promise((r) => setTimeout(r, 1200));
    assert.strictEqual(calls('sendChatAction').length, 2, 'one call each, none later');
  });

  it('many replies at once through one client: no "possible EventTarget memory leak" warning in the log', async () => {
    const client = new TelegramClient({ token: tg.token, apiRoot: tg.apiRoot, mode: 'polling', store: new MemoryKeyValueStore() });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await Promise.all(Array.from({ length: 30 }, (_, i) => client.outbound.send(to(), `reply ${i}`)));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
      await client.close();
    }
    assert.strictEqual(tg.sent(tg.dm.id).length, 30);
    assert.deepStrictEqual(warnings.map((w) => w.name), []);
  });

  it('a 400 is not tried again', async () => {
    tg.fail('sendMessage', { code: 400, description: 'Bad Request: chat not found' });
    await assert.rejects(outbound().send(to(), 'x'), /chat not found/);
    assert.strictEqual(calls('sendMessage').length, 1);
  });
});
