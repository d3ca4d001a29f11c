import { strict as assert } from 'assert';
import { runTurn, MAX_TOOL_RESULT_CHARS } from '../../../src/llm/tool-loop';
import { settleToolResult } from '../../../src/llm/pending';
import { choice, FAST_RETRY, openAIFakePerTest, weatherTool } from './helpers';

describe('llm engine: tool result size', () => {
  const fake = openAIFakePerTest();

  it('a huge tool result reaches the model cut to a bound, with a note that it was cut', async () => {
    fake().enqueue({ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Oslo' } }] }, { text: 'done' });
    const huge = 'y'.repeat(MAX_TOOL_RESULT_CHARS * 5);
    const r = await runTurn({
      providers: [choice('openai', fake().url)],
      retry: FAST_RETRY,
      signal: new AbortController().signal,
      messages: [{ role: 'user', content: 'weather?' }],
      portTools: [{ def: weatherTool }],
      hooks: { dispatchPortCall: (c) => setImmediate(() => settleToolResult(c.handle, { content: huge })) },
    });
    assert.equal(r.text, 'done');
    const toolMsg = fake().chatRequests()[1].body.messages.find((m: any) => m.role === 'tool');
    assert.ok(toolMsg.content.length < MAX_TOOL_RESULT_CHARS + 500, `sent ${toolMsg.content.length} characters`);
    assert.ok(toolMsg.content.startsWith('yyyy'));
    assert.match(toolMsg.content, /cut|truncated/i);
    assert.match(toolMsg.content, new RegExp(String(huge.length)));
  });
});
