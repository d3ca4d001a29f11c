// The raw SDK error an LlmError keeps as its cause must not carry the key either: a logger that
// inspects errors (util.inspect, console.error, many log shippers) prints the cause chain.
import { strict as assert } from 'assert';
import util from 'util';
import { classify } from '../../../src/llm/errors';
import { runTurn } from '../../../src/llm/tool-loop';
import { OpenAIFake } from '../../fakes/openai-fake';
import { choice, FAST_RETRY } from './helpers';

const KEY = 'sk-cause-Secret-9a8b7c6d5e4f';

describe('llm errors: the kept cause is redacted', () => {
  it('classify: util.inspect of the error shows neither the key in the message nor the request headers', () => {
    const sdkError = Object.assign(new Error(`401 Incorrect API key provided: ${KEY}`), {
      status: 401,
      headers: { 'x-request-id': 'req_1' },
      request: { headers: { authorization: `Bearer ${KEY}` } },
      code: 'invalid_api_key',
    });
    const err = classify(sdkError, { provider: 'openai', model: 'm', secrets: [KEY] });
    const shown = util.inspect(err, { depth: 10 });
    assert.ok(!shown.includes(KEY), shown);
    assert.equal(err.kind, 'auth');
    // What a log needs of the cause survives: its name, status, code and (redacted) message.
    const cause = (err as any).cause;
    assert.equal(cause.status, 401);
    assert.equal(cause.code, 'invalid_api_key');
    assert.match(cause.message, /Incorrect API key provided: \[redacted\]/);
  });

  it('through the real openai SDK: a server that echoes the key in a 401', async () => {
    const fake = await new OpenAIFake({ apiKey: KEY }).start();
    try {
      fake.fallback = () => ({ status: 401, errorMessage: `Incorrect API key provided: ${KEY}` });
      const err = await runTurn({ providers: [choice('openai-compatible', fake.url, { key: KEY })], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }).then(
        () => assert.fail('no error'),
        (e) => e,
      );
      assert.equal(err.kind, 'auth');
      const shown = util.inspect(err, { depth: 10 });
      assert.ok(!shown.includes(KEY), shown);
    } finally {
      await fake.close();
    }
  });
});
