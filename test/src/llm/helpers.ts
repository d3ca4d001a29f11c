// Shared bits of the LLM engine tests: build real providers against the loopback fakes.
import '../../../src/llm/providers';
import { createProvider } from '../../../src/llm/registry';
import type { ProviderChoice } from '../../../src/llm/tool-loop';
import type { RetryPolicy } from '../../../src/llm/retry';
import { strict as assert } from 'assert';
import { pendingCount } from '../../../src/llm/pending';
import { OpenAIFake } from '../../fakes/openai-fake';

/** Fast backoff so retry tests stay quick (Retry-After from the fake still wins). */
export const FAST_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 5_000 };

export function choice(provider: string, url: string, opts: { key?: string; model?: string; timeoutMs?: number; preset?: string } = {}): ProviderChoice {
  const p = createProvider({ provider, baseUrl: url, apiKey: opts.key ?? 'sk-test-secret-123456', defaultModel: opts.model ?? 'fake-model', preset: opts.preset, label: `${provider}-test` });
  return { provider: p, model: opts.model ?? 'fake-model', label: `${provider}-test`, timeoutMs: opts.timeoutMs ?? 10_000, secrets: [opts.key ?? 'sk-test-secret-123456'] };
}

export const weatherTool = {
  name: 'weather',
  description: 'Weather for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
};

/** A fresh OpenAI fake for each test of the calling suite, closed after it with no tool call left pending. */
export function openAIFakePerTest(): () => OpenAIFake {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake().start();
  });
  afterEach(async () => {
    await fake.close();
    assert.equal(pendingCount(), 0, 'no pending tool call leaks');
  });
  return () => fake;
}
