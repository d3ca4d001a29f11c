// A failed tool's result must read as a failure on every provider. Anthropic has `is_error`;
// OpenAI Chat Completions and Ollama tool messages carry only text, so the text says "Error: ".
import { strict as assert } from 'assert';
import { OpenAIFake } from '../../fakes/openai-fake';
import { OllamaFake } from '../../fakes/ollama-fake';
import { AnthropicFake } from '../../fakes/anthropic-fake';
import type { LlmFake } from '../../fakes/llm-fake-base';
import { runTurn } from '../../../src/llm/tool-loop';
import type { InProcessTool } from '../../../src/llm/tool-types';
import { choice, FAST_RETRY } from './helpers';

const tool = (name: string, content: string, isError = true): InProcessTool => ({
  name,
  description: name,
  inputSchema: { type: 'object', properties: {} },
  source: 'mcp:test',
  run: async () => ({ content, isError }),
});

const TOOLS = [tool('fail', 'failed on purpose: disk full'), tool('fail_marked', 'Error: already says so'), tool('ok', 'failed is just a word here', false)];
const CALLS = [
  { id: 'c1', name: 'fail', arguments: {} },
  { id: 'c2', name: 'fail_marked', arguments: {} },
  { id: 'c3', name: 'ok', arguments: {} },
];

async function turn(fake: LlmFake, provider: string) {
  fake.enqueue({ toolCalls: CALLS }, { text: 'done' });
  const events: string[] = [];
  const r = await runTurn({
    providers: [choice(provider, fake.url)],
    retry: FAST_RETRY,
    signal: new AbortController().signal,
    messages: [{ role: 'user', content: 'go' }],
    inProcessTools: TOOLS,
    hooks: { onToolEvent: (ev) => ev.phase === 'result' && events.push(ev.result.content) },
  });
  assert.equal(r.text, 'done');
  // Audit copies (the MCP audit port) keep the tool's own text.
  assert.deepEqual(events, ['failed on purpose: disk full', 'Error: already says so', 'failed is just a word here']);
  return fake.chatRequests()[1].body;
}

describe('llm engine: error tool results are marked for providers without an error flag', () => {
  let fake: LlmFake | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('openai: the tool message says "Error: " for an isError result, once', async () => {
    fake = await new OpenAIFake().start();
    const body = await turn(fake, 'openai');
    const tools = body.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.content);
    assert.deepEqual(tools, ['Error: failed on purpose: disk full', 'Error: already says so', 'failed is just a word here']);
  });

  it('ollama: the tool message says "Error: " for an isError result, once', async () => {
    fake = await new OllamaFake().start();
    const body = await turn(fake, 'ollama');
    const tools = body.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.content);
    assert.deepEqual(tools, ['Error: failed on purpose: disk full', 'Error: already says so', 'failed is just a word here']);
  });

  it('anthropic: is_error stays set next to the marked text', async () => {
    fake = await new AnthropicFake().start();
    const body = await turn(fake, 'anthropic');
    const blocks = body.messages.flatMap((m: any) => (Array.isArray(m.content) ? m.content : [])).filter((b: any) => b.type === 'tool_result');
    assert.deepEqual(
      blocks.map((b: any) => [b.content, b.is_error ?? false]),
      [
        ['Error: failed on purpose: disk full', true],
        ['Error: already says so', true],
        ['failed is just a word here', false],
      ],
    );
  });
});
