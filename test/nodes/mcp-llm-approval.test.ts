/**
 * "Needs approval" for MCP tools (docs/decisions/0200): an allowed MCP tool marked in
 * `mcpApproval` is held on the llm node's approval port until a tool-result node answers with
 * msg.approved; only then does the call reach the MCP server. The model is the OpenAI fake, the
 * MCP server the real SDK server over Streamable HTTP on loopback.
 */
import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { startFakeMcpHttp, type FakeMcpHttp } from '../fakes/mcp-http-server';
import { eventually } from '../fakes/mcp-launch';
import { pendingCount } from '../../src/llm/pending';

const providerNode = require('../../nodes/llm-provider');
const llmModule = require('../../nodes/llm');
const mcpServerNode = require('../../nodes/mcp-server');
const toolResultNode = require('../../nodes/tool-result');
const catalogs = [require('../../locales/en-US/llm.json'), require('../../locales/en-US/tool-result.json')];

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

const KEY = 'sk-mcp-approval-key-3131';

interface Opts {
  mcpTools: string[];
  mcpApproval?: string[];
  audit?: boolean;
  tools?: any[];
  /** Seconds. */
  approvalTimeout?: number;
  /** Ports to wire to helpers `port<i>` (from 2). */
  ports: number;
}

function flow(openaiUrl: string, mcpUrl: string, o: Opts) {
  const wires: string[][] = [['reply'], ['err']];
  for (let i = 2; i < o.ports; i++) wires.push([`port${i}`]);
  return [
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: openaiUrl, model: 'fake-model', timeout: 10 },
    { id: 'm1', type: 'clawflow-mcp-server', name: 'calc', transport: 'http', url: mcpUrl, headers: [] },
    {
      id: 'llm', type: 'clawflow-llm', provider: 'p1', stream: false, mcpServers: ['m1'], mcpTools: o.mcpTools, mcpApproval: o.mcpApproval ?? [],
      mcpAudit: !!o.audit, tools: o.tools ?? [], toolTimeout: 5, approvalTimeout: o.approvalTimeout ?? 600, wires,
    },
    { id: 'reply', type: 'helper' },
    { id: 'err', type: 'helper' },
    { id: 'tr', type: 'clawflow-tool-result' },
    ...Array.from({ length: o.ports - 2 }, (_, i) => ({ id: `port${i + 2}`, type: 'helper' })),
  ];
}

function finalReply(node: any): Promise<any> {
  return new Promise((resolve) => node.on('input', (m: any) => (!m.stream || m.stream.done) && resolve(m)));
}

/** The tool messages the model got back in a recorded Chat Completions request. */
const toolMessages = (req: any) => req.body.messages.filter((m: any) => m.role === 'tool');

/** Every array the llm node sends, to check the port count. */
function recordSends(node: any): any[][] {
  const sent: any[][] = [];
  const orig = node.send.bind(node);
  node.send = (arr: any) => {
    sent.push(arr);
    orig(arr);
  };
  return sent;
}

/** Warnings logged by node `id` (Node-RED's log, level 30). */
const warnings = (id: string): string[] =>
  helper.log().args.map((a: any[]) => a[0]).filter((e: any) => e && e.level === 30 && e.id === id).map((e: any) => String(e.msg));

describe('clawflow-llm with MCP: "needs approval"', function () {
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
    assert.equal(pendingCount(), 0, 'no wait left behind');
  });

  async function load(o: Opts) {
    await helper.load([providerNode, mcpServerNode, llmNode, toolResultNode], flow(openai.url, mcp.url, o), { p1: { apiKey: KEY } });
    await eventually(() => helper.getNode('m1').connection.state === 'ready', 10_000, 'MCP server ready');
  }

  it('approved: the held call leaves on the approval port, then reaches the MCP server and the model reads the result', async () => {
    openai.enqueue(
      { toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 2, b: 3 } }, { id: 'call_echo', name: 'echo', arguments: { text: 'hi' } }] },
      { text: 'Five, and hi.' },
    );
    await load({ mcpTools: ['add', 'echo'], mcpApproval: ['add'], ports: 3 });
    const llm = helper.getNode('llm');
    const sent = recordSends(llm);
    const chat = { channel: 'webchat', account: 'a', chatId: 'c1', chatType: 'direct', senderId: 'u' };
    const requests: any[] = [];
    helper.getNode('port2').on('input', (m: any) => {
      requests.push(m);
      assert.equal(mcp.calls.add, undefined, 'nothing reached the server before the approval');
      helper.getNode('tr').receive({ ...m, approved: true });
    });
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'add 2 and 3, echo hi', chat });
    const m = await final;
    assert.equal(m.payload, 'Five, and hi.');

    assert.equal(requests.length, 1, 'one approval request: echo is not held');
    const req = requests[0];
    assert.deepEqual(req.payload, { a: 2, b: 3 });
    assert.equal(typeof req.toolCall.id, 'string');
    assert.deepEqual({ ...req.toolCall, id: 'x' }, { id: 'x', name: 'add', callId: 'call_add', iteration: 0, approval: true, source: 'mcp:calc' });
    assert.equal(req.topic, 'add');
    assert.deepEqual(req.chat, chat, 'msg.chat kept for the approval flow');

    assert.equal(mcp.calls.add, 1);
    assert.equal(mcp.calls.echo, 1);
    const results = Object.fromEntries(toolMessages(openai.chatRequests()[1]).map((t: any) => [t.tool_call_id, t.content]));
    assert.deepEqual(results, { call_add: '5\n{"sum":5}', call_echo: 'echo: hi' });
    for (const arr of sent) assert.equal(arr.length, 3, 'reply, error, approval');
  });

  it('denied: the MCP server never sees the call, the model gets the denial with msg.reason, the audit copy shows it', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 1, b: 1 } }] }, { text: 'OK, I will not add.' });
    // Ports: reply, error, approval (2), audit (3).
    await load({ mcpTools: ['add'], mcpApproval: ['calc/add'], audit: true, ports: 4 });
    helper.getNode('port2').on('input', (m: any) => helper.getNode('tr').receive({ ...m, approved: false, reason: 'too risky' }));
    const audit: any[] = [];
    helper.getNode('port3').on('input', (m: any) => audit.push(m));
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: '1+1' });
    assert.equal((await final).payload, 'OK, I will not add.');

    assert.equal(mcp.calls.add, undefined, 'the MCP server never received the call');
    const [toolMsg] = toolMessages(openai.chatRequests()[1]);
    assert.equal(toolMsg.tool_call_id, 'call_add');
    assert.match(toolMsg.content, /^Error: the user denied the call to add: too risky\. It was not run\.$/);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].payload.result.isError, true);
    assert.match(audit[0].payload.result.content, /denied/);
  });

  it('no answer within the approval wait: the model gets a "not approved in time" error and nothing runs', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 4, b: 4 } }] }, { text: 'Nobody approved it.' });
    await load({ mcpTools: ['add'], mcpApproval: ['add'], approvalTimeout: 0.3, ports: 3 });
    const held: any[] = [];
    helper.getNode('port2').on('input', (m: any) => held.push(m)); // nobody answers
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: '4+4' });
    assert.equal((await final).payload, 'Nobody approved it.');
    assert.equal(held.length, 1);
    assert.equal(mcp.calls.add, undefined);
    const [toolMsg] = toolMessages(openai.chatRequests()[1]);
    assert.match(toolMsg.content, /was not approved in time \(no answer within 0\.3 s\); it was not run/);

    // A late answer settles nothing and fails loudly (done(err)), so a Catch node sees it.
    const tr = helper.getNode('tr');
    const failed = new Promise<any>((resolve) => tr.on('call:error', resolve));
    tr.receive({ ...held[0], approved: true });
    const call = await failed;
    assert.match(String(call.args[0]?.message ?? call.args[0]), /add/);
    assert.equal(mcp.calls.add, undefined);
  });

  it('ports: an MCP approval port comes before the port tools; an unallowed mark adds no port, warns, and holds nothing', async () => {
    const weather = { name: 'weather', schema: '{"type":"object","properties":{"city":{"type":"string"}}}' };
    openai.enqueue({ toolCalls: [{ id: 'call_w', name: 'weather', arguments: { city: 'Oslo' } }] }, { text: 'Sunny.' });
    await load({ mcpTools: ['add'], mcpApproval: ['add'], tools: [weather], ports: 4 });
    const llm = helper.getNode('llm');
    const sent = recordSends(llm);
    let approvals = 0;
    helper.getNode('port2').on('input', () => approvals++);
    helper.getNode('port3').on('input', (m: any) => {
      assert.equal(m.toolCall.name, 'weather');
      assert.equal(m.toolCall.source, undefined, 'a port tool call has no MCP source');
      helper.getNode('tr').receive({ ...m, payload: 'sunny' });
    });
    let final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'weather?' });
    assert.equal((await final).payload, 'Sunny.');
    assert.equal(approvals, 0, 'an unheld port tool is not sent for approval');
    assert.ok(sent.length > 0);
    for (const arr of sent) assert.equal(arr.length, 4, 'reply, error, approval, weather');
    await helper.unload();

    // "needs approval" on a tool that is not allowed: 2 ports, a warning, the allowed tool runs unheld.
    openai.enqueue({ toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 1, b: 2 } }] }, { text: 'Three.' });
    await load({ mcpTools: ['add'], mcpApproval: ['echo'], ports: 2 });
    const sent2 = recordSends(helper.getNode('llm'));
    final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: '1+2' });
    assert.equal((await final).payload, 'Three.');
    assert.equal(mcp.calls.add, 1);
    for (const arr of sent2) assert.equal(arr.length, 2, 'reply and error only');
    assert.ok(warnings('llm').some((w) => /'echo'.*needs approval/.test(w)), JSON.stringify(warnings('llm')));
  });

  it('a redeploy while a call is held ends the wait: nothing reaches the server, nothing is left pending', async () => {
    openai.enqueue({ toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 9, b: 9 } }] });
    await load({ mcpTools: ['add'], mcpApproval: ['add'], ports: 3 });
    const held = new Promise<any>((resolve) => helper.getNode('port2').on('input', resolve));
    helper.getNode('llm').receive({ payload: '9+9' });
    const m = await held;
    assert.equal(pendingCount(), 1, 'the call is held');
    const llm = helper.getNode('llm');
    await new Promise<void>((resolve) => llm.close(false).then(resolve, resolve));
    await eventually(() => pendingCount() === 0, 5000, 'wait released');
    const tr = helper.getNode('tr');
    const failed = new Promise<any>((resolve) => tr.on('call:error', resolve));
    tr.receive({ ...m, approved: true });
    await failed;
    assert.equal(mcp.calls.add, undefined);
  });
});
