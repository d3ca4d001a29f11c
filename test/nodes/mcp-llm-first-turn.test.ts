/**
 * The first turn right after a deploy: the MCP server is still in its first connect (a stdio
 * server that takes a moment to start, an HTTP server slow to answer `initialize`). The turn
 * waits for it, says so on the status, and the model's first request offers the MCP tools.
 */
import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { startFakeMcpHttp, type FakeMcpHttp } from '../fakes/mcp-http-server';
import { fakeStdioConfig, eventually } from '../fakes/mcp-launch';

const providerNode = require('../../nodes/llm-provider');
const llmNode = require('../../nodes/llm');
const mcpServerNode = require('../../nodes/mcp-server');

const KEY = 'sk-mcp-first-turn-key-31337';

function flow(openaiUrl: string, server: Record<string, unknown>, mcpTools: string[]) {
  return [
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: openaiUrl, model: 'fake-model', timeout: 10 },
    { id: 'm1', type: 'clawflow-mcp-server', name: 'slow', ...server },
    { id: 'llm', type: 'clawflow-llm', provider: 'p1', stream: false, mcpServers: ['m1'], mcpTools, toolTimeout: 5, wires: [['reply'], ['err']] },
    { id: 'reply', type: 'helper' },
    { id: 'err', type: 'helper' },
  ];
}

function finalReply(node: any): Promise<any> {
  return new Promise((resolve) => node.on('input', (m: any) => (!m.stream || m.stream.done) && resolve(m)));
}

const offered = (req: any) => (req.body.tools ?? []).map((t: any) => t.function.name).sort();

describe('clawflow-llm: the first turn waits for an MCP server still connecting', function () {
  let openai: OpenAIFake;
  let mcp: FakeMcpHttp | undefined;

  beforeEach(async () => {
    openai = await new OpenAIFake({ apiKey: KEY }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await openai.close();
    await mcp?.close();
    mcp = undefined;
  });

  /** Send one message at once after the deploy; resolve with the final reply and the statuses seen. */
  async function firstTurn(server: Record<string, unknown>) {
    await helper.load([providerNode, mcpServerNode, llmNode], flow(openai.url, server, ['echo', 'add']), { p1: { apiKey: KEY } });
    const llm = helper.getNode('llm');
    assert.equal(helper.getNode('m1').connection.state, 'connecting', 'the turn starts during the first connect');
    const texts: string[] = [];
    llm.on('call:status', (c: any) => texts.push(String(c.args[0]?.text ?? '')));
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'what tools do you have?' });
    return { reply: await final, texts };
  }

  it('stdio: a server that starts slowly is waited for, and its tools are offered in the first request', async () => {
    const cfg = fakeStdioConfig();
    const { reply, texts } = await firstTurn({
      transport: 'stdio',
      command: cfg.command,
      args: JSON.stringify(cfg.args),
      cwd: cfg.cwd,
      env: [{ name: 'FAKE_MCP_START_DELAY_MS', value: '1500' }],
    });
    assert.match(reply.payload, /^echo: /);
    assert.deepEqual(offered(openai.chatRequests()[0]), ['add', 'echo']);
    assert.ok(texts.some((x) => x.includes('status.mcpWaiting')), `statuses: ${texts.join(' | ')}`);
  });

  it('HTTP: a server slow to answer initialize is waited for, and its tools are offered in the first request', async () => {
    mcp = await startFakeMcpHttp({ initializeDelayMs: 1000 });
    const { reply } = await firstTurn({ transport: 'http', url: mcp.url, headers: [] });
    assert.match(reply.payload, /^echo: /);
    assert.deepEqual(offered(openai.chatRequests()[0]), ['add', 'echo']);
  });

  it('a turn waiting for the server stops waiting when the node closes, leaving no listener on the connection', async () => {
    mcp = await startFakeMcpHttp({ initializeDelayMs: 10_000 });
    await helper.load([providerNode, mcpServerNode, llmNode], flow(openai.url, { transport: 'http', url: mcp.url, headers: [] }, ['echo']), { p1: { apiKey: KEY } });
    const llm = helper.getNode('llm');
    const conn = helper.getNode('m1').connection;
    const before = conn.listenerCount('state');
    llm.receive({ payload: 'hi' });
    await eventually(() => conn.listenerCount('state') === before + 1, 5000, 'the turn waits on the connection');
    await llm.close(false);
    await eventually(() => conn.listenerCount('state') === before, 5000, 'the wait let go of the connection');
    assert.equal(conn.state, 'connecting');
    assert.equal(openai.chatRequests().length, 0, 'an aborted turn asks no model');
  });
});
