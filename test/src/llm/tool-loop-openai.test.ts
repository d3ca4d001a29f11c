import { strict as assert } from 'assert';
import { OpenAIFake } from '../../fakes/openai-fake';
import { runTurn, PortCall } from '../../../src/llm/tool-loop';
import { settleToolResult, pendingCount } from '../../../src/llm/pending';
import { LlmError } from '../../../src/llm/errors';
import { choice, FAST_RETRY, weatherTool } from './helpers';

describe('llm engine: tool loop over the openai provider', () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: 'sk-test-secret-123456' }).start();
  });
  afterEach(async () => {
    await fake.close();
    assert.equal(pendingCount(), 0, 'no pending tool call leaks');
  });

  const base = () => ({ providers: [choice('openai', fake.url)], retry: FAST_RETRY, signal: new AbortController().signal });

  it('streams a plain reply and reports usage and stop reason', async () => {
    fake.enqueue({ text: 'Hello there, friend', pieces: 3, usage: { input: 12, output: 4 } });
    const deltas: string[] = [];
    const texts: string[] = [];
    const r = await runTurn({ ...base(), system: 'be nice', messages: [{ role: 'user', content: 'hi' }], hooks: { onText: (d, t) => (deltas.push(d), texts.push(t)) } });
    assert.equal(r.text, 'Hello there, friend');
    assert.deepEqual(deltas, ['Hello t', 'here, f', 'riend']);
    assert.equal(texts[texts.length - 1], 'Hello there, friend');
    assert.deepEqual(r.usage, { inputTokens: 12, outputTokens: 4 });
    assert.equal(r.stopReason, 'stop');
    assert.equal(r.provider, 'openai');
    const body = fake.chatRequests()[0].body;
    assert.deepEqual(body.messages[0], { role: 'system', content: 'be nice' });
    assert.equal(body.stream, true);
    assert.equal(fake.chatRequests()[0].headers.authorization, 'Bearer sk-test-secret-123456');
  });

  it('runs parallel port tool calls (arguments streamed in pieces) and continues the loop', async () => {
    fake.enqueue(
      { toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Oslo' } }, { id: 'c2', name: 'weather', arguments: { city: 'Rome' } }] },
      { text: 'Oslo cold, Rome warm' },
    );
    const calls: PortCall[] = [];
    const r = await runTurn({
      ...base(),
      messages: [{ role: 'user', content: 'weather?' }],
      portTools: [{ def: weatherTool }],
      hooks: {
        dispatchPortCall: (c) => {
          calls.push(c);
          // answer asynchronously, in reverse order
          setImmediate(() => settleToolResult(c.handle, { content: c.args.city === 'Oslo' ? '-5C' : '20C' }));
        },
      },
    });
    assert.equal(r.text, 'Oslo cold, Rome warm');
    assert.equal(r.toolIterations, 1);
    assert.equal(r.toolCalls, 2);
    assert.deepEqual(calls.map((c) => c.args), [{ city: 'Oslo' }, { city: 'Rome' }]);
    const second = fake.chatRequests()[1].body;
    assert.equal(second.tools[0].function.name, 'weather');
    const assistant = second.messages.find((m: any) => m.role === 'assistant');
    assert.equal(assistant.tool_calls.length, 2);
    assert.equal(assistant.tool_calls[0].function.arguments, '{"city":"Oslo"}');
    const tools = second.messages.filter((m: any) => m.role === 'tool');
    assert.deepEqual(tools.map((m: any) => [m.tool_call_id, m.content]), [['c1', '-5C'], ['c2', '20C']]);
  });

  it('sends bad JSON and schema violations back to the model as error results, never out of a port', async () => {
    fake.enqueue(
      { toolCalls: [{ id: 'a', name: 'weather', arguments: '{"city": ' }, { id: 'b', name: 'weather', arguments: { town: 'x' } }, { id: 'c', name: 'nope', arguments: {} }] },
      { text: 'sorry' },
    );
    let dispatched = 0;
    const r = await runTurn({ ...base(), messages: [{ role: 'user', content: 'x' }], portTools: [{ def: weatherTool }], hooks: { dispatchPortCall: () => dispatched++ } });
    assert.equal(r.text, 'sorry');
    assert.equal(dispatched, 0);
    const tools = fake.chatRequests()[1].body.messages.filter((m: any) => m.role === 'tool');
    assert.match(tools[0].content, /not valid JSON/);
    assert.match(tools[1].content, /do not match the schema.*city/);
    assert.match(tools[2].content, /no tool named "nope"/);
  });

  it('gives the model a timeout error result when a tool never answers', async () => {
    fake.enqueue({ toolCalls: [{ id: 't', name: 'weather', arguments: { city: 'Oslo' } }] }, { text: 'the tool timed out' });
    const r = await runTurn({ ...base(), messages: [{ role: 'user', content: 'x' }], portTools: [{ def: weatherTool, timeoutMs: 50 }], hooks: { dispatchPortCall: () => undefined } });
    assert.equal(r.text, 'the tool timed out');
    const tool = fake.chatRequests()[1].body.messages.find((m: any) => m.role === 'tool');
    assert.match(tool.content, /did not answer within .*timeout/);
  });

  it('runs in-process tools, turning throws into error results, and reports tool events', async () => {
    fake.enqueue({ toolCalls: [{ id: 'i1', name: 'add', arguments: { a: 2, b: 3 } }, { id: 'i2', name: 'boom', arguments: {} }] }, { text: 'done' });
    const events: string[] = [];
    const schema = { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } };
    await runTurn({
      ...base(),
      messages: [{ role: 'user', content: 'x' }],
      inProcessTools: [
        { name: 'add', description: 'add', inputSchema: schema, source: 'mcp:math', run: async (a) => ({ content: String((a.a as number) + (a.b as number)) }) },
        { name: 'boom', description: 'fails', inputSchema: { type: 'object' }, source: 'mcp:math', run: async () => { throw new Error('kaput'); } },
      ],
      hooks: { onToolEvent: (e) => events.push(`${e.phase}:${e.tool}:${e.source}`) },
    });
    const tools = fake.chatRequests()[1].body.messages.filter((m: any) => m.role === 'tool');
    assert.equal(tools[0].content, '5');
    assert.match(tools[1].content, /boom failed: kaput/);
    assert.deepEqual(events.sort(), ['call:add:mcp:math', 'call:boom:mcp:math', 'result:add:mcp:math', 'result:boom:mcp:math']);
  });

  it('fails with tool_limit when the model keeps calling tools', async () => {
    fake.fallback = () => ({ toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] });
    await assert.rejects(
      runTurn({ ...base(), messages: [{ role: 'user', content: 'x' }], maxToolIterations: 1, portTools: [{ def: weatherTool }], hooks: { dispatchPortCall: (c) => settleToolResult(c.handle, { content: 'ok' }) } }),
      (e: LlmError) => e.kind === 'tool_limit' && /max tool iterations/.test(e.message),
    );
    assert.equal(fake.chatRequests().length, 3);
  });

  it('retries 429 honouring Retry-After, then 500 and a reset connection, then answers', async () => {
    fake.enqueue({ status: 429, retryAfter: 0 }, { status: 500 }, { reset: 'mid', text: 'partial text here' }, { text: 'finally' });
    const retries: [string, number][] = [];
    const texts: string[] = [];
    const r = await runTurn({ ...base(), retry: { ...FAST_RETRY, maxRetries: 3 }, messages: [{ role: 'user', content: 'x' }], hooks: { onRetry: (e, _a, d) => retries.push([e.kind, d]), onText: (_d, t) => texts.push(t) } });
    assert.equal(r.text, 'finally');
    assert.equal(r.retries, 3);
    assert.deepEqual(retries.map((x) => x[0]), ['rate_limit', 'server', 'network']);
    assert.equal(retries[0][1], 0, 'Retry-After: 0 is honoured');
    assert.equal(texts[texts.length - 1], 'finally');
  });

  it('waits the Retry-After seconds the server asks for', async () => {
    fake.enqueue({ status: 429, retryAfter: 1 }, { text: 'ok' });
    const delays: number[] = [];
    const r = await runTurn({ ...base(), messages: [{ role: 'user', content: 'x' }], hooks: { onRetry: (_e, _a, d) => delays.push(d) } });
    assert.equal(r.text, 'ok');
    assert.deepEqual(delays, [1000]);
  });

  it('does not retry 401 and never shows the key', async () => {
    const wrong = choice('openai', fake.url, { key: 'sk-wrong-key-abcdef' });
    await assert.rejects(runTurn({ providers: [wrong], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }), (e: LlmError) => {
      assert.equal(e.kind, 'auth');
      assert.equal(e.status, 401);
      assert.match(e.message, /openai provider 'openai-test' \(model fake-model\) failed \(auth 401\).*API key/);
      assert.ok(!e.message.includes('sk-wrong-key-abcdef'));
      assert.ok(!JSON.stringify(e).includes('sk-wrong'));
      return true;
    });
    assert.equal(fake.chatRequests().length, 1);
  });

  it('reports a malformed stream as a stream error after retries', async () => {
    fake.enqueue({ malformed: true, text: 'abc def ghi' }, { malformed: true, text: 'abc def ghi' }, { malformed: true, text: 'abc def ghi' });
    await assert.rejects(runTurn({ ...base(), messages: [{ role: 'user', content: 'x' }] }), (e: LlmError) => e.kind === 'stream' || e.kind === 'network');
    assert.equal(fake.chatRequests().length, 3);
  });

  it('fails over to the second provider when the first fails for good', async () => {
    const second = await new OpenAIFake().start();
    try {
      fake.enqueue({ status: 500 }, { status: 500 }, { status: 500 });
      second.enqueue({ text: 'from backup' });
      const failovers: string[] = [];
      const r = await runTurn({
        providers: [choice('openai', fake.url), choice('openai', second.url, { model: 'backup-model' })],
        retry: FAST_RETRY,
        signal: new AbortController().signal,
        messages: [{ role: 'user', content: 'x' }],
        hooks: { onFailover: (e) => failovers.push(e.kind) },
      });
      assert.equal(r.text, 'from backup');
      assert.equal(r.model, 'backup-model');
      assert.equal(r.failovers, 1);
      assert.deepEqual(failovers, ['server']);
    } finally {
      await second.close();
    }
  });

  it('an aborted turn cancels the HTTP request', async () => {
    fake.enqueue({ hang: true });
    const ctl = new AbortController();
    const p = runTurn({ ...base(), signal: ctl.signal, messages: [{ role: 'user', content: 'x' }] });
    await fake.waitForRequests(1);
    ctl.abort(new Error('interrupt'));
    await assert.rejects(p, (e: LlmError) => e.kind === 'aborted');
    await waitUntil(() => fake.cancelled === 1);
  });

  it('an idle timeout aborts the request and is retried', async () => {
    fake.enqueue({ hang: true }, { text: 'after timeout' });
    const r = await runTurn({ providers: [choice('openai', fake.url, { timeoutMs: 100 })], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.text, 'after timeout');
    assert.equal(r.retries, 1);
  });
});

export async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
