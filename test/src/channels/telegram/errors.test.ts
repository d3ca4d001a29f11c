/**
 * Failure texts never carry the bot token: fetch errors name the request URL, and the URL
 * holds the token. Real grammY against the fake Bot API, which drops the connection.
 */
import assert from 'assert';
import { Bot, GrammyError, HttpError } from 'grammy';
import { startFakeTelegram, type FakeTelegram } from '../../../fakes/telegram-bot-api';
import { classify, redactTokens, rememberToken, toTelegramError } from '../../../../src/channels/telegram/errors';

describe('telegram errors: no token in any text', () => {
  let tg: FakeTelegram;
  beforeEach(async () => {
    tg = await startFakeTelegram();
  });
  afterEach(() => tg.close());

  const secret = () => tg.token.split(':')[1];

  for (const how of ['drop', 'reset'] as const) {
    it(`a ${how === 'drop' ? 'hung up' : 'reset'} connection: the cause is kept, the token is cut`, async () => {
      const bot = new Bot(tg.token, { client: { apiRoot: tg.apiRoot } });
      tg.fail('sendMessage', { [how]: true });
      const err = await bot.api.sendMessage(1, 'x').then(
        () => assert.fail('should have failed'),
        (e: unknown) => e,
      );
      const f = classify(err);
      assert.strictEqual(f.kind, 'network');
      assert.match(f.description, /socket hang up|ECONNRESET/);
      assert.match(f.description, /bot<redacted>\/sendMessage/);
      const te = toTelegramError('sendMessage', err);
      for (const text of [f.description, te.message, String(te.stack)]) {
        assert.ok(!text.includes(tg.token) && !text.includes(secret()), text);
      }
    });
  }

  it('a token echoed in a Bot API description is cut too', () => {
    const err = new GrammyError('x', { ok: false, error_code: 400, description: `Bad Request: token ${tg.token} is odd` }, 'sendMessage', {});
    const f = classify(err);
    assert.ok(!f.description.includes(secret()), f.description);
    assert.strictEqual(toTelegramError('sendMessage', err).message.includes(secret()), false);
  });

  it('redacts URL path segments (plain and encoded), bare token shapes and known tokens of any shape', () => {
    assert.strictEqual(redactTokens('GET http://h:1/bot123456:AAAA-bb_cc/getUpdates failed'), 'GET http://h:1/bot<redacted>/getUpdates failed');
    assert.strictEqual(redactTokens('/bot123456%3AAAAAbbbbcccc/x'), '/bot<redacted>/x');
    assert.strictEqual(redactTokens('token 123456789:AAFakeTokenForTests_abcdefghijklmno here'), 'token <redacted> here');
    const release = rememberToken('odd-token-shape');
    assert.strictEqual(redactTokens('saw odd-token-shape'), 'saw <redacted>');
    release();
    assert.strictEqual(redactTokens('saw odd-token-shape'), 'saw odd-token-shape');
    assert.strictEqual(redactTokens('retry in 12:30, chat 42'), 'retry in 12:30, chat 42');
  });

  it('an HttpError without the inner error says what failed, without a URL', () => {
    const f = classify(new HttpError("Network request for 'getMe' failed!", undefined));
    assert.deepStrictEqual([f.kind, f.description], ['network', "Network request for 'getMe' failed!"]);
  });
});
