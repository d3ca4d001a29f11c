import { strict as assert } from 'assert';
import { OpenAIFake } from '../../fakes/openai-fake';
import { runTurn } from '../../../src/llm/tool-loop';
import type { InProcessTool } from '../../../src/llm/tool-types';
import { choice, FAST_RETRY } from './helpers';

describe('llm engine: an in-process (MCP) tool with a broken schema', () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake().start();
  });
  afterEach(() => fake.close());

  const tool = (name: string, inputSchema: Record<string, unknown>): InProcessTool => ({
    name,
    description: name,
    inputSchema,
    source: 'mcp:srv',
    run: async () => ({ content: `${name} ran` }),
  });

  it('is not offered (the turn goes on with the others) and is reported once per turn', async () => {
    fake.enqueue({ toolCalls: [{ name: 'broken', arguments: { x: 1 } }, { name: 'good', arguments: {} }] }, { text: 'done' });
    const skipped: string[] = [];
    const r = await runTurn({
      providers: [choice('openai', fake.url)],
      retry: FAST_RETRY,
      signal: new AbortController().signal,
      messages: [{ role: 'user', content: 'x' }],
      inProcessTools: [tool('broken', { type: 'object', properties: { x: { type: 'nonsense' } } }), tool('good', { type: 'object', properties: {} })],
      hooks: { onToolSkipped: (name, why) => skipped.push(`${name}: ${why}`) },
    });
    assert.equal(r.text, 'done');
    const offered = fake.chatRequests()[0].body.tools.map((t: any) => t.function.name);
    assert.deepEqual(offered, ['good']);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0], /^broken: .*schema/);
    const results = fake.chatRequests()[1].body.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.content);
    assert.match(results[0], /^Error: there is no tool named "broken"/);
    assert.equal(results[1], 'good ran');
  });
});
