/**
 * End to end: a clawflow-llm node using a clawflow-mcp-server (the loopback SDK server over
 * Streamable HTTP) with a model played by the OpenAI fake. Shows the model calling an MCP tool
 * and reading its result, the allowlist deciding what is offered and what runs, and an MCP
 * error result going back to the model.
 */
import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { startFakeMcpHttp, type FakeMcpHttp } from '../fakes/mcp-http-server';
import { eventually } from '../fakes/mcp-launch';

const providerNode = require('../../nodes/llm-provider');
const llmNode = require('../../nodes/llm');
const mcpServerNode = require('../../nodes/mcp-server');

const KEY = 'sk-mcp-e2e-key-424242';

function flow(openaiUrl: string, mcpUrl: string, mcpTools: string[]) {
  return [
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: openaiUrl, model: 'fake-model', timeout: 10 },
    { id: 'm1', type: 'clawflow-mcp-server', name: 'calc', transport: 'http', url: mcpUrl, headers: [] },
    { id: 'llm', type: 'clawflow-llm', provider: 'p1', system: 'use tools', stream: false, mcpServers: ['m1'], mcpTools, toolTimeout: 5, wires: [['reply'], ['err']] },
    { id: 'reply', type: 'helper' },
    { id: 'err', type: 'helper' },
  ];
}

function finalReply(node: any): Promise<any> {
  return new Promise((resolve) => node.on('input', (m: any) => (!m.stream || m.stream.done) && resolve(m)));
}

/** Names of the tools offered in a recorded Chat Completions request. */
const offered = (req: any) => (req.body.tools ?? []).map((t: any) => t.function.name).sort();
/** The tool messages the model got back in a recorded request. */
const toolMessages = (req: any) => req.body.messages.filter((m: any) => m.role === 'tool');

describe('clawflow-llm with clawflow-mcp-server (end to end)', function () {
  let openai: OpenAIFake;
  let mcp: FakeMcpHttp;

  beforeEach(async () => {
    openai = await new OpenAIFake({ apiKey: KEY }).start();
    mcp = await startFakeMcpHttp();
  });
  afterEach(async () => {
    await helper.unload();
    await openai.close();
    await mcp.close();
  });

  async function load(mcpTools: string[]) {
    await helper.load([providerNode, mcpServerNode, llmNode], flow(openai.url, mcp.url, mcpTools), { p1: { apiKey: KEY } });
    const server = helper.getNode('m1');
    await eventually(() => server.connection.state === 'ready', 10_000, 'MCP server ready');
  }

  it('the model calls an allowlisted MCP tool and reads its result, structured content included', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 19, b: 23 } }] }, { text: 'It is 42.' });
    await load(['add', 'fail']);
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'what is 19 + 23?' });
    const m = await final;
    assert.equal(m.payload, 'It is 42.');
    const [first, second] = openai.chatRequests();
    assert.deepEqual(offered(first), ['add', 'fail']);
    const addDef = first.body.tools.find((t: any) => t.function.name === 'add').function;
    assert.deepEqual(addDef.parameters.required, ['a', 'b']);
    assert.deepEqual(toolMessages(second), [{ role: 'tool', tool_call_id: 'call_add', content: '42\n{"sum":42}' }]);
    assert.equal(mcp.calls.add, 1);
  });

  it('offers nothing from the server with an empty allowlist', async () => {
    openai.enqueue({ text: 'no tools here' });
    await load([]);
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'hi' });
    await final;
    assert.deepEqual(offered(openai.chatRequests()[0]), []);
  });

  it('a tool not on the allowlist is neither offered nor run, even if the model asks for it', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_echo', name: 'echo', arguments: { text: 'sneaky' } }] }, { text: 'ok' });
    await load(['add']);
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'echo something' });
    await final;
    const [first, second] = openai.chatRequests();
    assert.deepEqual(offered(first), ['add']);
    const [toolMsg] = toolMessages(second);
    assert.equal(toolMsg.tool_call_id, 'call_echo');
    assert.match(toolMsg.content, /error|unknown|not/i);
    assert.equal(mcp.calls.echo, undefined, 'the MCP server never saw the call');
  });

  it('an MCP error result goes back to the model as the tool result and the turn goes on', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_fail', name: 'fail', arguments: { why: 'disk full' } }] }, { text: 'Sorry, that failed.' });
    await load(['fail']);
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'do the thing' });
    const m = await final;
    assert.equal(m.payload, 'Sorry, that failed.');
    const [toolMsg] = toolMessages(openai.chatRequests()[1]);
    assert.equal(toolMsg.tool_call_id, 'call_fail');
    // OpenAI tool messages have no error flag: the text itself says it is an error.
    assert.match(toolMsg.content, /^Error: failed on purpose: disk full/);
    assert.equal(mcp.calls.fail, 1);
  });
});
