import assert from 'assert';
import { FrameError, MAX_TEXT_LENGTH, isValidPeerId, parseClientFrame, parseCommand } from '../../../../src/channels/webchat/protocol';
import { TicketBook, originAllowed, tokenMatches } from '../../../../src/channels/webchat/access';
import { normaliseChatPath, parseOrigins, updateFromMsg, webchatEnvelope } from '../../../../src/channels/webchat/mapping';

function frameError(raw: string): FrameError {
  try {
    parseClientFrame(raw);
  } catch (err) {
    return err as FrameError;
  }
  throw new Error('no error');
}

describe('webchat protocol and access', function () {
  it('parses hello and send frames and says what is wrong with bad ones', function () {
    assert.deepStrictEqual(parseClientFrame('{"type":"hello","peerId":"abcdefgh12","lastSeq":4,"epoch":"e1"}'), {
      type: 'hello', peerId: 'abcdefgh12', lastSeq: 4, epoch: 'e1',
    });
    assert.deepStrictEqual(parseClientFrame('{"type":"send","clientId":"c1","text":"  hi  ","name":" Ada "}'), {
      type: 'send', clientId: 'c1', text: 'hi', name: 'Ada',
    });
    assert.match(frameError('not json').message, /not JSON/);
    assert.match(frameError('{"type":"hello","peerId":"../x"}').message, /peerId/);
    assert.match(frameError('{"type":"send","clientId":"c","text":"   "}').message, /empty/);
    assert.strictEqual(frameError(JSON.stringify({ type: 'send', clientId: 'c', text: 'x'.repeat(MAX_TEXT_LENGTH + 1) })).code, 'too_long');
    assert.match(frameError('{"type":"nope"}').message, /unknown frame type/);
    assert.strictEqual(isValidPeerId('short'), false);
  });

  it('parses a leading /command', function () {
    assert.deepStrictEqual(parseCommand('/Pair approve ABC'), { name: 'pair', args: 'approve ABC' });
    assert.strictEqual(parseCommand('not /a command'), undefined);
  });

  it('checks Origin against Host and the allowed list', function () {
    assert.strictEqual(originAllowed('http://127.0.0.1:1880', '127.0.0.1:1880', []), true);
    assert.strictEqual(originAllowed('http://evil.test', '127.0.0.1:1880', []), false);
    assert.strictEqual(originAllowed(undefined, '127.0.0.1:1880', []), false);
    assert.strictEqual(originAllowed('null', '127.0.0.1:1880', []), false);
    assert.strictEqual(originAllowed('https://app.example.com', 'nr.local:1880', ['https://app.example.com/']), true);
  });

  it('compares tokens and issues one-time, expiring tickets', function () {
    assert.strictEqual(tokenMatches('abc', 'abc'), true);
    assert.strictEqual(tokenMatches('abd', 'abc'), false);
    assert.strictEqual(tokenMatches(undefined, 'abc'), false);
    let now = 1000;
    const book = new TicketBook(100, 2, () => now);
    const a = book.issue();
    assert.strictEqual(book.redeem(a), true);
    assert.strictEqual(book.redeem(a), false, 'used once');
    const b = book.issue();
    now += 101;
    assert.strictEqual(book.redeem(b), false, 'expired');
    book.issue();
    book.issue();
    book.issue();
    assert.strictEqual(book.size, 2, 'bounded');
  });

  it('normalises paths and origins from the config', function () {
    assert.strictEqual(normaliseChatPath('clawflow/chat/'), '/clawflow/chat');
    assert.strictEqual(normaliseChatPath('/a/../b'), undefined);
    assert.strictEqual(normaliseChatPath('/'), undefined);
    assert.strictEqual(normaliseChatPath('/a b'), undefined);
    assert.deepStrictEqual(parseOrigins('https://a.example, http://b.test:8080/\nftp://x nope'), {
      origins: ['https://a.example', 'http://b.test:8080'],
      bad: ['ftp://x', 'nope'],
    });
  });

  it('builds the envelope and the outbound update', function () {
    const chat = webchatEnvelope('cfg1', { peerId: 'peer-123456', text: '/new', messageId: 'm1', ts: 5, name: 'Ada' });
    assert.deepStrictEqual(chat, {
      channel: 'webchat', account: 'cfg1', chatId: 'peer-123456', chatType: 'direct', senderId: 'peer-123456',
      senderName: 'Ada', text: '/new', messageId: 'm1', mentioned: true, attachments: [], timestamp: 5,
      command: { name: 'new', args: '' },
    });
    const id = () => 'fresh';
    assert.deepStrictEqual(updateFromMsg({ payload: 'hi' }, id), { id: 'fresh', text: 'hi', done: true });
    assert.deepStrictEqual(updateFromMsg({ payload: 'He', stream: { id: 's', seq: 1, delta: 'He', done: false } }, id), { id: 'r-s', text: 'He', done: false });
    assert.deepStrictEqual(updateFromMsg({ payload: { a: 1 } }, id).text, '{\n  "a": 1\n}');
    assert.deepStrictEqual(updateFromMsg({ payload: 'x', reason: 'llm_error' }, id), { id: 'fresh', text: 'x', done: true, error: 'llm_error' });
    assert.strictEqual(updateFromMsg({ error: 'boom' }, id).error, 'boom');
  });
});
