// An error the server reports inside a stream it had started (Anthropic `event: error`, an
// OpenAI-style `data: {"error":...}` chunk, an Ollama `{"error":"..."}` line) is classified by
// what the server said: overloaded / rate limit / server errors are retried under their own kind
// with the server's message; invalid request and auth errors are not retried. Never "the server
// is not speaking this provider's protocol".
import { strict as assert } from 'assert';
import { OpenAIFake } from '../../fakes/openai-fake';
import { OllamaFake } from '../../fakes/ollama-fake';
import { AnthropicFake } from '../../fakes/anthropic-fake';
import type { LlmFake, ScriptedReply } from '../../fakes/llm-fake-base';
import { runTurn } from '../../../src/llm/tool-loop';
import { LlmError } from '../../../src/llm/errors';
import { choice, FAST_RETRY } from './helpers';

const PROVIDERS: [string, () => LlmFake][] = [
  ['anthropic', () => new AnthropicFake()],
  ['openai', () => new OpenAIFake()],
  ['ollama', () => new OllamaFake()],
];

async function turn(fake: LlmFake, provider: string, first: ScriptedReply) {
  fake.enqueue(first, { text: 'the answer' });
  const retried: LlmError[] = [];
  const run = runTurn({
    providers: [choice(provider, fake.url)],
    retry: FAST_RETRY,
    signal: new AbortController().signal,
    messages: [{ role: 'user', content: 'hi' }],
    hooks: { onRetry: (e) => retried.push(e) },
  });
  return { run, retried };
}

describe('llm engine: error events inside a stream', () => {
  let fake: LlmFake | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  for (const [provider, make] of PROVIDERS) {
    describe(provider, () => {
      it('an overloaded error mid-stream is retried as overloaded with the server message, and the user gets the answer', async () => {
        fake = await make().start();
        const message = provider === 'ollama' ? 'server busy, please try again later' : 'Overloaded';
        const { run, retried } = await turn(fake, provider, { text: 'partial answer', streamError: { type: provider === 'openai' ? 'server_overloaded' : 'overloaded_error', message } });
        const r = await run;
        assert.equal(r.text, 'the answer');
        assert.equal(r.retries, 1);
        assert.equal(retried.length, 1);
        assert.equal(retried[0].kind, 'overloaded');
        assert.ok(retried[0].message.includes(message), retried[0].message);
        assert.doesNotMatch(retried[0].message, /not speaking this provider's protocol/);
      });

      it('a server error mid-stream is retried as a server error', async () => {
        fake = await make().start();
        const message = provider === 'ollama' ? 'model runner has unexpectedly stopped' : 'Internal server error';
        const { run, retried } = await turn(fake, provider, { text: 'partial answer', streamError: { type: provider === 'openai' ? 'server_error' : 'api_error', message } });
        const r = await run;
        assert.equal(r.text, 'the answer');
        assert.equal(retried[0].kind, 'server');
        assert.ok(retried[0].message.includes(message), retried[0].message);
        assert.doesNotMatch(retried[0].message, /not speaking/);
      });

      if (provider !== 'ollama') {
        it('a rate limit error mid-stream is retried as rate_limit', async () => {
          fake = await make().start();
          const type = provider === 'openai' ? 'rate_limit_exceeded' : 'rate_limit_error';
          const { run, retried } = await turn(fake, provider, { text: 'partial', streamError: { type, message: 'Rate limit reached for requests' } });
          await run;
          assert.equal(retried[0].kind, 'rate_limit');
          assert.match(retried[0].message, /Rate limit reached for requests/);
        });

        it('an invalid request error mid-stream fails the turn at once, not retried', async () => {
          fake = await make().start();
          const { run, retried } = await turn(fake, provider, { text: 'partial', streamError: { type: 'invalid_request_error', message: 'prompt is too long' } });
          const err: LlmError = await run.then(
            () => assert.fail('no error'),
            (e) => e,
          );
          assert.equal(err.kind, 'bad_request');
          assert.equal(err.retryable, false);
          assert.match(err.message, /prompt is too long/);
          assert.doesNotMatch(err.message, /not speaking/);
          assert.equal(retried.length, 0);
          assert.equal(fake.chatRequests().length, 1);
        });

        it('an authentication error mid-stream is not retried', async () => {
          fake = await make().start();
          const type = provider === 'openai' ? 'invalid_api_key' : 'authentication_error';
          const { run } = await turn(fake, provider, { text: 'partial', streamError: { type, message: 'invalid x-api-key' } });
          const err: LlmError = await run.then(
            () => assert.fail('no error'),
            (e) => e,
          );
          assert.equal(err.kind, 'auth');
          assert.equal(fake.chatRequests().length, 1);
        });
      }
    });
  }

  it('openai-compatible: a numeric error code in the stream chunk is read as an HTTP status', async () => {
    fake = await new OpenAIFake().start();
    const { run, retried } = await turn(fake, 'openai-compatible', { text: 'partial', streamError: { type: 'ServiceUnavailableError', message: 'The model is overloaded', code: 503 } });
    const r = await run;
    assert.equal(r.text, 'the answer');
    assert.equal(retried[0].kind, 'overloaded');
    assert.equal(retried[0].status, 503);
  });

  it('a garbled stream is still a stream error (protocol hint)', async () => {
    fake = await new OpenAIFake().start();
    const { run, retried } = await turn(fake, 'openai', { text: 'partial', malformed: true });
    await run;
    assert.ok(['stream', 'network'].includes(retried[0].kind), retried[0].kind);
  });
});
