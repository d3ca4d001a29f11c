// Each provider through its real SDK against a loopback fake speaking its wire format.
import { strict as assert } from 'assert';
import { AnthropicFake } from '../../fakes/anthropic-fake';
import { OllamaFake } from '../../fakes/ollama-fake';
import { OpenAIFake } from '../../fakes/openai-fake';
import { LlmFake } from '../../fakes/llm-fake-base';
import { runTurn } from '../../../src/llm/tool-loop';
import { settleToolResult, pendingCount } from '../../../src/llm/pending';
import { LlmError } from '../../../src/llm/errors';
import { createProvider, listProviders } from '../../../src/llm/registry';
import { choice, FAST_RETRY, weatherTool } from './helpers';

const KEY = 'sk-test-secret-123456';
const cases: { name: string; make: () => LlmFake }[] = [
  { name: 'anthropic', make: () => new AnthropicFake({ apiKey: KEY, models: ['claude-a', 'claude-b'] }) },
  { name: 'ollama', make: () => new OllamaFake({ models: ['llama-a'] }) },
  { name: 'openai-compatible', make: () => new OpenAIFake({ apiKey: KEY }) },
];

for (const c of cases) {
  describe(`llm provider ${c.name} (real SDK, loopback fake)`, () => {
    let fake: LlmFake;
    beforeEach(async () => {
      fake = await c.make().start();
    });
    afterEach(async () => {
      await fake.close();
      assert.equal(pendingCount(), 0);
    });
    const run = (extra: object = {}) =>
      runTurn({ providers: [choice(c.name, fake.url)], retry: FAST_RETRY, signal: new AbortController().signal, system: 'sys', messages: [{ role: 'user', content: 'hi' }], ...extra });

    it('streams a plain reply with usage', async () => {
      fake.enqueue({ text: 'Hello from the fake', usage: { input: 11, output: 6 } });
      const deltas: string[] = [];
      const r = await run({ hooks: { onText: (d: string) => deltas.push(d) } });
      assert.equal(r.text, 'Hello from the fake');
      assert.ok(deltas.length >= 3);
      assert.deepEqual(r.usage, { inputTokens: 11, outputTokens: 6 });
    });

    it('runs parallel tool calls and sends results back in the native format', async () => {
      fake.enqueue({ toolCalls: [{ id: 'x1', name: 'weather', arguments: { city: 'Oslo' } }, { id: 'x2', name: 'weather', arguments: { city: 'Rome' } }] }, { text: 'both done' });
      const r = await run({ portTools: [{ def: weatherTool }], hooks: { dispatchPortCall: (p: any) => setImmediate(() => settleToolResult(p.handle, { content: `sunny in ${p.args.city}` })) } });
      assert.equal(r.text, 'both done');
      assert.equal(r.toolCalls, 2);
      const body = fake.chatRequests()[1].body;
      const wire = JSON.stringify(body.messages);
      assert.ok(wire.includes('sunny in Oslo') && wire.includes('sunny in Rome'));
      if (c.name === 'anthropic') {
        assert.equal(body.system, 'sys');
        assert.equal(body.tools[0].input_schema.type, 'object');
        const results = body.messages[2];
        assert.equal(results.role, 'user');
        assert.deepEqual(results.content.map((b: any) => b.tool_use_id), ['x1', 'x2']);
        assert.deepEqual(body.messages[1].content.map((b: any) => b.input), [{ city: 'Oslo' }, { city: 'Rome' }]);
      } else if (c.name === 'ollama') {
        assert.deepEqual(body.messages[2].tool_calls[0].function.arguments, { city: 'Oslo' }, 'ollama gets object arguments back');
        assert.equal(body.messages[3].tool_name, 'weather');
      } else {
        assert.equal(body.messages[2].tool_calls[1].id, 'x2');
      }
    });

    it('retries a 429 and a 500, then answers', async () => {
      fake.enqueue({ status: 429, retryAfter: 0 }, { status: 500 }, { text: 'recovered' });
      const r = await run();
      assert.equal(r.text, 'recovered');
      assert.equal(r.retries, 2);
    });

    it('reports a connection reset mid-stream and a malformed stream as retryable failures', async () => {
      fake.enqueue({ reset: 'mid', text: 'aaa bbb ccc' }, { malformed: true, text: 'aaa bbb ccc' }, { text: 'third time' });
      const kinds: string[] = [];
      const r = await run({ hooks: { onRetry: (e: LlmError) => kinds.push(e.kind) } });
      assert.equal(r.text, 'third time');
      assert.equal(kinds.length, 2);
      assert.equal(kinds[0], 'network');
    });

    it('lists models', async () => {
      const models = await createProvider({ provider: c.name, baseUrl: fake.url, apiKey: KEY }).listModels(new AbortController().signal);
      assert.ok(models.length >= 1);
    });

    it('aborting cancels the HTTP request', async () => {
      fake.enqueue({ hang: true });
      const ctl = new AbortController();
      const p = run({ signal: ctl.signal });
      await fake.waitForRequests(1);
      ctl.abort();
      await assert.rejects(p, (e: LlmError) => e.kind === 'aborted');
      const end = Date.now() + 3000;
      while (fake.cancelled < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.equal(fake.cancelled, 1);
    });
  });
}

describe('llm provider quirks', () => {
  it('anthropic: 529 overloaded is retried; 401 is not, and the key never shows', async () => {
    const fake = await new AnthropicFake({ apiKey: KEY }).start();
    try {
      fake.enqueue({ status: 529 }, { text: 'ok' });
      const r = await runTurn({ providers: [choice('anthropic', fake.url)], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.text, 'ok');
      assert.equal(r.retries, 1);
      await assert.rejects(
        runTurn({ providers: [choice('anthropic', fake.url, { key: 'sk-ant-wrong-123456789' })], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }),
        (e: LlmError) => e.kind === 'auth' && e.status === 401 && !e.message.includes('sk-ant-wrong'),
      );
    } finally {
      await fake.close();
    }
  });

  it('kimi preset echoes reasoning_content in tool loops and pins temperature', async () => {
    const fake = await new OpenAIFake().start();
    try {
      fake.enqueue({ reasoning: 'I should look it up', toolCalls: [{ id: 'k1', name: 'weather', arguments: { city: 'Oslo' } }] }, { text: 'done' });
      await runTurn({
        providers: [choice('openai-compatible', fake.url, { preset: 'kimi', model: 'kimi-k2-thinking' })],
        retry: FAST_RETRY,
        temperature: 0.2,
        signal: new AbortController().signal,
        messages: [{ role: 'user', content: 'x' }],
        portTools: [{ def: weatherTool }],
        hooks: { dispatchPortCall: (p) => settleToolResult(p.handle, { content: 'cold' }) },
      });
      const [first, second] = fake.chatRequests().map((r) => r.body);
      assert.equal(first.temperature, 1);
      assert.equal(first.max_completion_tokens, undefined);
      const assistant = second.messages.find((m: any) => m.role === 'assistant');
      assert.equal(assistant.reasoning_content, 'I should look it up');
    } finally {
      await fake.close();
    }
  });

  it('ollama: a 429 Retry-After is honoured through the custom fetch', async () => {
    const fake = await new OllamaFake().start();
    try {
      fake.enqueue({ status: 429, retryAfter: 0 }, { text: 'ok' });
      const delays: number[] = [];
      const r = await runTurn({ providers: [choice('ollama', fake.url)], retry: { ...FAST_RETRY, baseDelayMs: 3000, maxDelayMs: 3000 }, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }], hooks: { onRetry: (_e, _a, d) => delays.push(d) } });
      assert.equal(r.text, 'ok');
      assert.deepEqual(delays, [0]);
    } finally {
      await fake.close();
    }
  });

  it('a provider config without a model uses the provider default model; a set one wins', () => {
    const defaults: Record<string, string> = { openai: 'gpt-4o-mini', anthropic: 'claude-3-5-haiku-latest', ollama: 'llama3.2' };
    for (const [provider, model] of Object.entries(defaults)) {
      assert.equal(createProvider({ provider }).defaultModel, model, provider);
      assert.equal(createProvider({ provider, defaultModel: 'mine' }).defaultModel, 'mine', `${provider} with a model set`);
      assert.equal(listProviders().find((p) => p.name === provider)!.meta.defaultModel, model, `${provider} tells the editor`);
    }
    // A bare openai-compatible endpoint has no default to guess; its presets do.
    assert.equal(createProvider({ provider: 'openai-compatible' }).defaultModel, undefined);
    assert.equal(createProvider({ provider: 'openai-compatible', preset: 'deepseek' }).defaultModel, 'deepseek-chat');
  });

  it('the registry lists the built-ins with presets', () => {
    const names = listProviders().map((p) => p.name);
    for (const n of ['anthropic', 'ollama', 'openai', 'openai-compatible']) assert.ok(names.includes(n), n);
    const oc = listProviders().find((p) => p.name === 'openai-compatible')!;
    assert.deepEqual(Object.keys(oc.meta.presets ?? {}).sort(), ['deepseek', 'kimi', 'lmstudio', 'openrouter', 'vllm']);
  });
});
