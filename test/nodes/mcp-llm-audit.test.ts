/**
 * The llm node's MCP integration beyond "the tool runs": the optional MCP audit port, the MCP
 * servers' state on the llm node's status (through a real HTTP server that crashes and comes
 * back), the allowlist warnings, and clean deregistration on redeploy. The model is the OpenAI
 * fake, the MCP server the real SDK server on loopback.
 */
import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { startFakeMcpHttp, type FakeMcpHttp } from '../fakes/mcp-http-server';
import { eventually } from '../fakes/mcp-launch';

const providerNode = require('../../nodes/llm-provider');
const llmModule = require('../../nodes/llm');
const mcpServerNode = require('../../nodes/mcp-server');
const catalogs = [require('../../locales/en-US/llm.json'), require('../../locales/en-US/mcp-server.json')];

/** The helper's RED._ returns keys; give the nodes the real en-US texts (`__name__` interpolation). */
function translate(key: string, params: Record<string, unknown> = {}): string {
  for (const cat of catalogs) {
    const value = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), cat);
    if (typeof value === 'string') return value.replace(/__(\w+?)__/g, (_m, name) => (name in params ? String(params[name]) : `__${name}__`));
  }
  return key;
}
function llmNode(RED: any) {
  RED._ = translate;
  return llmModule(RED);
}

const KEY = 'sk-mcp-audit-key-777';

interface Opts {
  mcpTools: string[];
  audit?: boolean;
  tools?: any[];
}

function flow(openaiUrl: string, mcpUrl: string, o: Opts) {
  const ports = 2 + (o.tools ?? []).length + (o.audit ? 1 : 0);
  const wires: string[][] = [['reply'], ['err']];
  for (let i = 2; i < ports; i++) wires.push([`port${i}`]);
  return [
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: openaiUrl, model: 'fake-model', timeout: 10 },
    { id: 'm1', type: 'clawflow-mcp-server', name: 'calc', transport: 'http', url: mcpUrl, headers: [] },
    {
      id: 'llm', type: 'clawflow-llm', provider: 'p1', stream: false, mcpServers: ['m1'], mcpTools: o.mcpTools, mcpAudit: !!o.audit,
      tools: o.tools ?? [], toolTimeout: 5, wires,
    },
    { id: 'reply', type: 'helper' },
    { id: 'err', type: 'helper' },
    ...Array.from({ length: ports - 2 }, (_, i) => ({ id: `port${i + 2}`, type: 'helper' })),
  ];
}

function finalReply(node: any): Promise<any> {
  return new Promise((resolve) => node.on('input', (m: any) => (!m.stream || m.stream.done) && resolve(m)));
}

/** Every status the node shows from now on. */
function recordStatus(node: any): any[] {
  const seen: any[] = [];
  const orig = node.status.bind(node);
  node.status = (s: any) => {
    seen.push(s);
    orig(s);
  };
  return seen;
}

/** Warnings logged by node `id` (Node-RED's log, level 30). */
const warnings = (id: string): string[] =>
  helper.log().args.map((a: any[]) => a[0]).filter((e: any) => e && e.level === 30 && e.id === id).map((e: any) => String(e.msg));

describe('clawflow-llm with MCP: audit port, status, allowlist warnings', function () {
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

  async function load(o: Opts) {
    await helper.load([providerNode, mcpServerNode, llmNode], flow(openai.url, mcp.url, o), { p1: { apiKey: KEY } });
    await eventually(() => helper.getNode('m1').connection.state === 'ready', 10_000, 'MCP server ready');
  }

  it('the audit port (last, after the tool ports) gets a copy of each MCP call and its result', async () => {
    openai.enqueue(
      { toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 2, b: 3 } }, { id: 'call_fail', name: 'fail', arguments: { why: 'nope' } }] },
      { text: 'Done.' },
    );
    const weather = { name: 'weather', schema: '{"type":"object","properties":{"city":{"type":"string"}}}' };
    await load({ mcpTools: ['add', 'fail'], audit: true, tools: [weather] });
    const audit: any[] = [];
    helper.getNode('port3').on('input', (m: any) => audit.push(m));
    const toolPort: any[] = [];
    helper.getNode('port2').on('input', (m: any) => toolPort.push(m));
    const final = finalReply(helper.getNode('reply'));
    const chat = { channel: 'webchat', account: 'a', chatId: 'c1', chatType: 'direct', senderId: 'u' };
    helper.getNode('llm').receive({ payload: 'add and fail', chat, stream: { id: 'x', seq: 0, delta: '', done: false } });
    const m = await final;
    assert.equal(m.payload, 'Done.');
    assert.equal(toolPort.length, 0, 'the port tool port stays quiet');
    assert.equal(audit.length, 2);
    const byTool = Object.fromEntries(audit.map((a) => [a.payload.tool, a]));
    const add = byTool.add;
    assert.equal(add.payload.server, 'calc');
    assert.equal(add.payload.mcpName, 'add');
    assert.deepEqual(add.payload.args, { a: 2, b: 3 });
    assert.deepEqual(add.payload.result, { content: '5\n{"sum":5}', isError: false, structured: { sum: 5 } });
    assert.equal(typeof add.payload.ms, 'number');
    assert.ok(add.payload.ms >= 0);
    assert.deepEqual(add.toolCall, { name: 'add', callId: 'call_add', iteration: 0, source: 'mcp:calc', audit: true });
    assert.deepEqual(add.chat, chat, 'msg.chat kept');
    assert.equal(add.stream, undefined, 'no stream info on the audit copy');
    const fail = byTool.fail;
    assert.equal(fail.payload.result.isError, true);
    assert.match(fail.payload.result.content, /failed on purpose: nope/);
    assert.equal(fail.payload.result.structured, undefined);
    assert.equal(mcp.calls.add, 1);
  });

  it('without the option there is no audit port and nothing extra is sent', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 1, b: 1 } }] }, { text: 'Two.' });
    await load({ mcpTools: ['add'] });
    const sent: any[] = [];
    const llm = helper.getNode('llm');
    const origSend = llm.send.bind(llm);
    llm.send = (arr: any) => {
      sent.push(arr);
      origSend(arr);
    };
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: '1+1' });
    assert.equal((await final).payload, 'Two.');
    assert.equal(mcp.calls.add, 1);
    assert.ok(sent.length > 0);
    for (const arr of sent) {
      assert.equal(arr.length, 2, 'two ports: reply and error');
      assert.equal(arr[1], null);
    }
  });

  it('shows the MCP state on the status, and follows the server going down and coming back', async () => {
    await load({ mcpTools: ['add', 'echo'] });
    const llm = helper.getNode('llm');
    const seen = recordStatus(llm);
    openai.enqueue({ text: 'hi' });
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'hi' });
    await final;
    const ready = seen[seen.length - 1];
    assert.equal(ready.fill, 'green');
    assert.match(ready.text, /ready · 1 MCP: 2 tools/);
    assert.ok(seen.some((s) => s.fill === 'blue' && /thinking/.test(s.text)), 'own running status shown');

    await mcp.crash();
    await eventually(() => seen.some((s) => /MCP 'calc' (reconnecting|connecting)/.test(s.text ?? '')), 10_000, 'reconnecting on the llm status');
    assert.ok(seen.some((s) => s.fill === 'yellow' && /MCP 'calc'/.test(s.text)));
    await mcp.restart();
    await eventually(() => /ready · 1 MCP: 2 tools/.test(seen[seen.length - 1].text ?? ''), 15_000, 'ready again');
  });

  it('a running turn keeps its own status and adds an MCP problem to it', async () => {
    await load({ mcpTools: ['add'] });
    const llm = helper.getNode('llm');
    await mcp.crash();
    await eventually(() => helper.getNode('m1').connection.state !== 'ready', 10_000, 'server down');
    const seen = recordStatus(llm);
    openai.enqueue({ text: 'still here' });
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'hi' });
    await final;
    assert.ok(seen.some((s) => s.fill === 'blue' && /thinking \(1\) · MCP 'calc'/.test(s.text)), JSON.stringify(seen));
  });

  it('warns once per deploy about allowed names no server offers, and accepts <server>/<tool>', async () => {
    openai.enqueue({ text: 'a' }, { text: 'b' });
    await load({ mcpTools: ['calc/add', 'nosuch', 'other/echo'] });
    await eventually(() => warnings('llm').some((w) => /nosuch/.test(w)), 5000, 'missing warning');
    const llm = helper.getNode('llm');
    for (const text of ['one', 'two']) {
      const final = finalReply(helper.getNode('reply'));
      llm.receive({ payload: text });
      await final;
    }
    const w = warnings('llm');
    assert.equal(w.filter((x) => /'nosuch'/.test(x)).length, 1, 'once, not per turn');
    assert.equal(w.filter((x) => /'other\/echo'/.test(x)).length, 1, 'a qualified name with an unknown server is missing too');
    assert.ok(!w.some((x) => /calc\/add/.test(x)), 'a qualified name of the right server is fine');
    const offered = openai.chatRequests()[0].body.tools.map((x: any) => x.function.name);
    assert.deepEqual(offered, ['add']);
  });

  it('warns about an MCP server id that is not deployed, and offers nothing from it', async () => {
    openai.enqueue({ text: 'ok' });
    const f = flow(openai.url, mcp.url, { mcpTools: ['add'] });
    (f[2] as any).mcpServers = ['m1', 'ghost'];
    await helper.load([providerNode, mcpServerNode, llmNode], f, { p1: { apiKey: KEY } });
    assert.ok(warnings('llm').some((w) => /'ghost'/.test(w)));
  });

  it('deregisters from its MCP servers on close: no status after redeploy', async () => {
    await load({ mcpTools: ['add'] });
    const llm = helper.getNode('llm');
    const server = helper.getNode('m1');
    let after = 0;
    const deregistered: any[] = [];
    const origDereg = server.deregister;
    server.deregister = (u: any) => {
      deregistered.push(u);
      origDereg(u);
    };
    await new Promise<void>((resolve) => llm.close(false).then(resolve, resolve));
    assert.equal(deregistered.length, 1, 'the llm node deregistered its status target');
    const orig = llm.status.bind(llm);
    llm.status = (s: any) => {
      after++;
      orig(s);
    };
    await mcp.crash();
    await eventually(() => server.connection.state !== 'ready', 10_000, 'server down');
    assert.equal(after, 0);
  });
});
