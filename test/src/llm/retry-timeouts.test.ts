import { strict as assert } from 'assert';
import { OpenAIFake } from '../../fakes/openai-fake';
import { runTurn } from '../../../src/llm/tool-loop';
import { DEFAULT_RETRY } from '../../../src/llm/retry';
import { LlmError } from '../../../src/llm/errors';
import { choice, FAST_RETRY } from './helpers';

describe('llm engine: retries of timed-out requests', () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake().start();
  });
  afterEach(() => fake.close());

  it('a request that timed out is retried once, not maxRetries times (4 x the idle timeout outlasted the session lease)', async () => {
    fake.fallback = () => ({ hang: true });
    const policy = { ...FAST_RETRY, maxRetries: 3 };
    await assert.rejects(
      runTurn({ providers: [choice('openai', fake.url, { timeoutMs: 150 })], retry: policy, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }),
      (e: LlmError) => e.kind === 'timeout',
    );
    assert.equal(fake.chatRequests().length, 2);
  });

  it('with the default policy, two idle timeouts of the default 120 s fit in the default 300 s lease', () => {
    const timeouts = 1 + (DEFAULT_RETRY.maxTimeoutRetries ?? DEFAULT_RETRY.maxRetries);
    assert.ok(timeouts * 120 + DEFAULT_RETRY.maxDelayMs / 1000 < 300, `${timeouts} timeouts of 120 s`);
  });

  it('other retryable failures still get all retries', async () => {
    fake.enqueue({ status: 503 }, { status: 503 }, { status: 503 }, { text: 'finally' });
    const r = await runTurn({ providers: [choice('openai', fake.url)], retry: { ...FAST_RETRY, maxRetries: 3 }, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.text, 'finally');
    assert.equal(r.retries, 3);
  });
});
