import { strict as assert } from 'assert';
import { OpenAIFake } from '../fakes/openai-fake';
import { runTurn, MAX_TOOL_CALLS_PER_MESSAGE, HARD_TOOL_CALLS_PER_MESSAGE } from '../../src/llm/tool-loop';
import { LlmError } from '../../src/llm/errors';
import type { InProcessTool } from '../../src/llm/tool-types';
import { choice, FAST_RETRY } from '../src/llm/helpers';

const KEY = 'sk-tool-calls-secret-424242';

/** An in-process tool that counts its runs. */
function counter(): InProcessTool & { runs: number } {
  const t = {
    name: 'ping',
    description: 'answers pong',
    source: 'test',
    inputSchema: { type: 'object', properties: {} },
    runs: 0,
    async run() {
      t.runs++;
      return { content: 'pong' };
    },
  };
  return t;
}

describe('security: tool calls a model asks for', () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: KEY }).start();
  });
  afterEach(async () => {
    await fake.close();
  });
  const base = () => ({ providers: [choice('openai', fake.url, { key: KEY })], retry: FAST_RETRY, signal: new AbortController().signal });

  it('runs at most MAX_TOOL_CALLS_PER_MESSAGE calls of one message; the rest get an error result the model reads', async () => {
    const tool = counter();
    const n = MAX_TOOL_CALLS_PER_MESSAGE + 10;
    fake.enqueue({ toolCalls: Array.from({ length: n }, (_, i) => ({ id: `c${i}`, name: 'ping', arguments: {} })) }, { text: 'done' });
    const r = await runTurn({ ...base(), messages: [{ role: 'user', content: 'go' }], inProcessTools: [tool] });
    assert.equal(r.text, 'done');
    assert.equal(tool.runs, MAX_TOOL_CALLS_PER_MESSAGE);
    const results = r.added.filter((m) => m.role === 'tool');
    assert.equal(results.length, n, 'every call id has a result (providers require it)');
    const refused = results.filter((m) => m.isError);
    assert.equal(refused.length, 10);
    assert.match(String(refused[0].content), /too many tool calls in one message/);
  });

  it('a message with thousands of tool calls ends the turn with a clear error and runs none', async () => {
    const tool = counter();
    fake.enqueue({ toolCalls: Array.from({ length: HARD_TOOL_CALLS_PER_MESSAGE + 1 }, (_, i) => ({ id: `c${i}`, name: 'ping', arguments: {} })) });
    await assert.rejects(runTurn({ ...base(), messages: [{ role: 'user', content: 'go' }], inProcessTools: [tool] }), (err: LlmError) => {
      assert.equal(err.kind, 'tool_limit');
      assert.match(err.message, /tool calls in one message/);
      assert.ok(!err.message.includes(KEY));
      return true;
    });
    assert.equal(tool.runs, 0);
  });

  it('a call of a tool that does not exist gets an error result naming the tools there are', async () => {
    const tool = counter();
    fake.enqueue({ toolCalls: [{ id: 'x', name: 'rm_rf', arguments: {} }] }, { text: 'ok' });
    const r = await runTurn({ ...base(), messages: [{ role: 'user', content: 'go' }], inProcessTools: [tool] });
    const res = r.added.find((m) => m.role === 'tool')!;
    assert.equal(res.isError, true);
    assert.match(String(res.content), /no tool named "rm_rf". Available tools: ping/);
    assert.equal(tool.runs, 0);
  });
});
