import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { abortTurn, releaseTurnSignal } from '../../src/turn-signals';
import { pendingCount } from '../../src/llm/pending';

const providerNode = require('../../nodes/llm-provider');
const llmNode = require('../../nodes/llm');
const toolResultNode = require('../../nodes/tool-result');

const KEY = 'sk-node-test-key-987654';
const weather = { name: 'weather', description: 'Weather for a city', schema: '{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}' };

function flow(url: string, llm: Record<string, unknown> = {}, extra: any[] = []) {
  const tools = (llm.tools as any[]) ?? [];
  const ports = 2 + (tools.some((t) => t.approval) ? 1 : 0) + tools.length;
  const wires: string[][] = [['reply'], ['err']];
  for (let i = 2; i < ports; i++) wires.push([`port${i}`]);
  return [
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: url, model: 'fake-model', timeout: 10 },
    { id: 'llm', type: 'clawflow-llm', provider: 'p1', system: 'be brief', stream: true, wires, ...llm },
    { id: 'reply', type: 'helper' },
    { id: 'err', type: 'helper' },
    ...Array.from({ length: ports - 2 }, (_, i) => ({ id: `port${i + 2}`, type: 'helper' })),
    ...extra,
  ];
}

const creds = { p1: { apiKey: KEY } };

/** Collect final replies (stream.done) from the reply helper. */
function finalReply(node: any): Promise<any> {
  return new Promise((resolve) => node.on('input', (m: any) => (!m.stream || m.stream.done) && resolve(m)));
}

describe('clawflow-llm node', function () {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: KEY }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    assert.equal(pendingCount(), 0);
  });

  it('answers msg.payload text: partials then the final reply with usage and llm info, msg.chat kept', async () => {
    fake.enqueue({ text: 'Hi! How can I help?', usage: { input: 7, output: 5 } });
    await helper.load([providerNode, llmNode], flow(fake.url), creds);
    const reply = helper.getNode('reply');
    const msgs: any[] = [];
    reply.on('input', (m: any) => msgs.push(m));
    const final = finalReply(reply);
    const chat = { channel: 'webchat', account: 'a', chatId: 'c', chatType: 'direct', senderId: 'u' };
    helper.getNode('llm').receive({ payload: 'hello', chat });
    const m = await final;
    assert.equal(m.payload, 'Hi! How can I help?');
    assert.deepEqual(m.chat, chat);
    assert.deepEqual(m.usage, { inputTokens: 7, outputTokens: 5, totalTokens: 12 });
    assert.equal(m.llm.provider, 'openai');
    assert.equal(m.llm.model, 'fake-model');
    assert.equal(m.llm.toolIterations, 0);
    const partials = msgs.filter((x) => !x.stream.done);
    assert.equal(partials[0].payload, '', 'first partial is the typing signal');
    assert.ok(partials.length >= 2);
    assert.ok(msgs.every((x) => x.stream.id === m.stream.id));
    assert.deepEqual(msgs.map((x) => x.stream.seq), msgs.map((_x, i) => i));
    assert.ok(msgs.every((x) => x.chat.chatId === 'c'));
    const body = fake.chatRequests()[0].body;
    assert.deepEqual(body.messages, [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }]);
  });

  it('a token-per-chunk stream reaches the flow as a few partials, not one message per chunk', async () => {
    // 400 chunks about 1 ms apart, like a fast provider streaming a token per chunk.
    const words = Array.from({ length: 400 }, (_, i) => `w${i} `);
    fake.enqueue({ chunks: words, chunkDelayMs: 1 });
    await helper.load([providerNode, llmNode], flow(fake.url), creds);
    const reply = helper.getNode('reply');
    const msgs: any[] = [];
    reply.on('input', (m: any) => msgs.push(m));
    const final = finalReply(reply);
    helper.getNode('llm').receive({ payload: 'talk' });
    const m = await final;
    assert.equal(m.payload, words.join(''));
    const partials = msgs.filter((x) => !x.stream.done);
    assert.equal(partials[0].payload, '', 'typing first');
    assert.ok(partials[1].payload.length > 0 && partials[1].payload.length <= 8, `the first text goes out at once: "${partials[1].payload}"`);
    assert.ok(partials.length < words.length / 4, `${partials.length} partials for ${words.length} chunks`);
    // Each partial's delta is what it adds, so they still add up to its text.
    for (let i = 1; i < partials.length; i++) {
      assert.equal(partials[i - 1].payload + partials[i].stream.delta, partials[i].payload, `partial ${i}`);
    }
    assert.deepEqual(msgs.map((x) => x.stream.seq), msgs.map((_x, i) => i));
  });

  it('reads the session window from msg.session and keeps msg.session on every output', async () => {
    fake.enqueue({ text: 'second answer' });
    await helper.load([providerNode, llmNode], flow(fake.url, { stream: false }), creds);
    const final = finalReply(helper.getNode('reply'));
    const session = { key: 'k', turnId: 'turn-1', history: [{ role: 'user', content: 'q1' }, { role: 'assistant', content: 'a1' }, { role: 'user', content: 'q2' }], context: {}, configId: 'g' };
    helper.getNode('llm').receive({ payload: 'q2', session });
    const m = await final;
    assert.equal(m.stream, undefined, 'no stream info when streaming is off');
    assert.equal(m.session.key, 'k');
    const sent = fake.chatRequests()[0].body.messages.slice(1).map((x: any) => `${x.role}:${x.content}`);
    assert.deepEqual(sent, ['user:q1', 'assistant:a1', 'user:q2']);
    releaseTurnSignal('turn-1');
  });

  it('sends a tool call out of its port and continues when a tool-result node answers', async () => {
    fake.enqueue(
      { toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }, { name: 'time', arguments: {} }] },
      { text: 'It is cold in Oslo' },
    );
    const time = { name: 'time', description: 'Current time', schema: '' };
    const f = flow(fake.url, { tools: [weather, time] }, [{ id: 'tr', type: 'clawflow-tool-result' }]);
    // both tool ports also go to the tool-result node (it answers with the arguments / a text)
    f[1].wires[2].push('tr');
    await helper.load([providerNode, llmNode, toolResultNode], f, creds);
    const portMsgs: any[] = [];
    helper.getNode('port2').on('input', (m: any) => portMsgs.push(m));
    helper.getNode('port3').on('input', (m: any) => {
      portMsgs.push(m);
      helper.getNode('tr').receive({ ...m, payload: '12:00' });
    });
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'weather in Oslo?', chat: { channel: 'webchat', chatId: 'c' } });
    const m = await final;
    assert.equal(m.payload, 'It is cold in Oslo');
    assert.equal(m.llm.toolCalls, 2);
    const w = portMsgs.find((x) => x.toolCall.name === 'weather');
    assert.deepEqual(w.payload, { city: 'Oslo' });
    assert.equal(typeof w.toolCall.id, 'string');
    assert.equal(w.chat.chatId, 'c');
    const tools = fake.chatRequests()[1].body.messages.filter((x: any) => x.role === 'tool').map((x: any) => x.content);
    assert.deepEqual(tools.sort(), ['12:00', '{"city":"Oslo"}']);
  });

  it('a Catch-style message (msg.error) becomes an error result for the model', async () => {
    fake.enqueue({ toolCalls: [{ name: 'weather', arguments: { city: 'X' } }] }, { text: 'could not get it' });
    const f = flow(fake.url, { tools: [weather] }, [{ id: 'tr', type: 'clawflow-tool-result' }]);
    await helper.load([providerNode, llmNode, toolResultNode], f, creds);
    helper.getNode('port2').on('input', (m: any) => helper.getNode('tr').receive({ ...m, error: { message: 'HTTP 503 from weather API' } }));
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'x' });
    await final;
    const tool = fake.chatRequests()[1].body.messages.find((x: any) => x.role === 'tool');
    assert.equal(tool.content, 'Error: HTTP 503 from weather API');
  });

  it('a Catch message whose error text already says "Error: " (a function node that threw) is not marked twice', async () => {
    fake.enqueue({ toolCalls: [{ name: 'weather', arguments: { city: 'X' } }] }, { text: 'could not get it' });
    const f = flow(fake.url, { tools: [weather] }, [{ id: 'tr', type: 'clawflow-tool-result' }]);
    await helper.load([providerNode, llmNode, toolResultNode], f, creds);
    helper.getNode('port2').on('input', (m: any) => helper.getNode('tr').receive({ ...m, error: { message: 'Error: weather service down', source: { type: 'function' } } }));
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'x' });
    await final;
    const tool = fake.chatRequests()[1].body.messages.find((x: any) => x.role === 'tool');
    assert.equal(tool.content, 'Error: weather service down');
  });

  it('holds a tool that needs approval until an approval arrives; a denial reaches the model', async () => {
    fake.enqueue({ toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] }, { text: 'ok, I will not' });
    const f = flow(fake.url, { tools: [{ ...weather, approval: true }] }, [{ id: 'tr', type: 'clawflow-tool-result' }]);
    await helper.load([providerNode, llmNode, toolResultNode], f, creds);
    let toolRan = false;
    helper.getNode('port3').on('input', () => (toolRan = true));
    helper.getNode('port2').on('input', (m: any) => {
      assert.equal(m.toolCall.approval, true);
      assert.deepEqual(m.payload, { city: 'Oslo' });
      helper.getNode('tr').receive({ ...m, approved: false, reason: 'not now' });
    });
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'x' });
    const m = await final;
    assert.equal(m.payload, 'ok, I will not');
    assert.equal(toolRan, false);
    const tool = fake.chatRequests()[1].body.messages.find((x: any) => x.role === 'tool');
    assert.match(tool.content, /denied.*not now/);
  });

  it('on 401: done(err) naming provider and fix, an apology on output 2, no key anywhere', async () => {
    fake.enqueue({ status: 401, errorMessage: `Incorrect API key provided: ${KEY}` });
    await helper.load([providerNode, llmNode], flow(fake.url, { apologyText: 'Sorry!' }), creds);
    const llm = helper.getNode('llm');
    const errored = new Promise<any>((resolve) => llm.on('call:error', (call: any) => resolve(call)));
    const apology = new Promise<any>((resolve) => helper.getNode('err').on('input', resolve));
    llm.receive({ payload: 'x', chat: { chatId: 'c' } });
    const [call, m] = await Promise.all([errored, apology]);
    const err = call.args[0];
    const text = err instanceof Error ? err.message : String(err);
    assert.match(text, /openai provider 'fake' \(model fake-model\) failed \(auth 401\)/);
    assert.ok(!text.includes(KEY));
    assert.equal(m.payload, 'Sorry!');
    assert.equal(m.reason, 'llm_error');
    assert.equal(m.chat.chatId, 'c');
    assert.ok(!JSON.stringify(m).includes(KEY));
    assert.equal(fake.chatRequests().length, 1, '401 is not retried');
  });

  it('a failure after streaming started closes that stream with the apology (no stale draft or typing)', async () => {
    fake.enqueue({ status: 401, errorMessage: 'Incorrect API key provided' });
    await helper.load([providerNode, llmNode], flow(fake.url, { apologyText: 'Sorry!' }), creds);
    const partials: any[] = [];
    helper.getNode('reply').on('input', (m: any) => partials.push(m));
    const apology = new Promise<any>((resolve) => helper.getNode('err').on('input', resolve));
    helper.getNode('llm').receive({ payload: 'x', chat: { chatId: 'c' } });
    const m = await apology;
    assert.ok(partials.length >= 1, 'the typing partial went out first');
    assert.equal(partials[0].stream.done, false);
    assert.equal(m.stream.id, partials[0].stream.id, 'the apology closes the same stream');
    assert.equal(m.stream.done, true);
    assert.ok(m.stream.seq > partials[partials.length - 1].stream.seq);
  });

  it('a failure with streaming off sends the apology without a stream', async () => {
    fake.enqueue({ status: 401, errorMessage: 'Incorrect API key provided' });
    await helper.load([providerNode, llmNode], flow(fake.url, { apologyText: 'Sorry!', stream: false }), creds);
    const apology = new Promise<any>((resolve) => helper.getNode('err').on('input', resolve));
    helper.getNode('llm').receive({ payload: 'x', chat: { chatId: 'c' } });
    const m = await apology;
    assert.equal(m.stream, undefined);
  });

  it('fails over to the fallback provider config', async () => {
    const backup = await new OpenAIFake().start();
    try {
      fake.fallback = () => ({ status: 400, errorMessage: 'model not found' });
      backup.enqueue({ text: 'backup says hi' });
      const f = flow(fake.url, { fallbacks: ['p2'] }, [{ id: 'p2', type: 'clawflow-llm-provider', provider: 'openai', baseUrl: backup.url, model: 'backup-model' }]);
      await helper.load([providerNode, llmNode], f, creds);
      const final = finalReply(helper.getNode('reply'));
      helper.getNode('llm').receive({ payload: 'x' });
      const m = await final;
      assert.equal(m.payload, 'backup says hi');
      assert.equal(m.llm.model, 'backup-model');
      assert.equal(m.llm.failovers, 1);
    } finally {
      await backup.close();
    }
  });

  it('the status stops saying "retrying" once the retried request answers', async () => {
    fake.enqueue({ status: 503 }, { chunks: ['Hel', 'lo ', 'there'], chunkDelayMs: 150 });
    await helper.load([providerNode, llmNode], flow(fake.url), creds);
    const llm = helper.getNode('llm');
    const statuses: string[] = [];
    llm.on('call:status', (c: any) => statuses.push(String(c.args[0]?.text ?? '')));
    const seen: string[] = [];
    helper.getNode('reply').on('input', (m: any) => {
      if (!m.stream.done && m.payload) seen.push(statuses[statuses.length - 1]);
    });
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'x' });
    await final;
    assert.ok(statuses.some((t) => t.includes('retrying')), `statuses: ${JSON.stringify(statuses)}`);
    assert.ok(seen.length > 0);
    assert.ok(!seen.some((t) => t.includes('retrying')), `status while the answer streamed: ${JSON.stringify(seen)}`);
  });

  it('a gateway interrupt (abortTurn) cancels the HTTP request and sends nothing more', async () => {
    fake.enqueue({ hang: true });
    await helper.load([providerNode, llmNode], flow(fake.url), creds);
    const llm = helper.getNode('llm');
    const done = new Promise<void>((resolve) => llm.on('call:status', (c: any) => c.args[0]?.shape === 'ring' && c.args[0]?.fill === 'grey' && resolve()));
    let finals = 0;
    helper.getNode('reply').on('input', (m: any) => m.stream.done && finals++);
    llm.receive({ payload: 'x', session: { key: 'k', turnId: 'turn-abort', history: [{ role: 'user', content: 'x' }] } });
    await fake.waitForRequests(1);
    abortTurn('turn-abort', 'interrupt');
    await done;
    await waitUntil(() => fake.cancelled === 1);
    assert.equal(finals, 0);
    releaseTurnSignal('turn-abort');
  });

  it('close (redeploy) aborts running turns and their HTTP requests', async () => {
    fake.enqueue({ hang: true });
    await helper.load([providerNode, llmNode], flow(fake.url), creds);
    helper.getNode('llm').receive({ payload: 'x' });
    await fake.waitForRequests(1);
    await helper.unload();
    await waitUntil(() => fake.cancelled === 1);
  });

  it('a tool whose port has no wire is not offered to the model (a call could never be answered), with a warning', async () => {
    fake.enqueue({ text: 'no tools needed' });
    const time = { name: 'time', description: 'Current time', schema: '' };
    const f = flow(fake.url, { tools: [weather, time] });
    f[1].wires[3] = []; // the time port: nothing connected
    await helper.load([providerNode, llmNode], f, creds);
    const llm = helper.getNode('llm');
    const warnings: string[] = [];
    llm.on('call:warn', (c: any) => warnings.push(String(c.args[0])));
    const final = finalReply(helper.getNode('reply'));
    llm.receive({ payload: 'x' });
    await final;
    const offered = (fake.chatRequests()[0].body.tools ?? []).map((t: any) => t.function.name);
    assert.deepEqual(offered, ['weather']);
    // The warning is given at deploy, before the spy: the node logged it through node.warn.
    const logged = (helper as any).log().args.map((a: any[]) => JSON.stringify(a[0]?.msg ?? a[0])).join('\n');
    assert.match(logged + warnings.join('\n'), /time/);
  });

  it('with the approval port unwired, a tool that needs approval is refused at once, not held for 10 minutes', async () => {
    fake.enqueue({ toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] }, { text: 'cannot do it' });
    const f = flow(fake.url, { tools: [{ ...weather, approval: true }] });
    f[1].wires[2] = []; // the approval port
    await helper.load([providerNode, llmNode], f, creds);
    const final = finalReply(helper.getNode('reply'));
    helper.getNode('llm').receive({ payload: 'x' });
    await final;
    const tool = fake.chatRequests()[1].body.messages.find((x: any) => x.role === 'tool');
    assert.match(tool.content, /^Error: .*approv/);
  });

  it('bad input gives a clear error (no crash)', async () => {
    await helper.load([providerNode, llmNode], flow(fake.url), creds);
    const llm = helper.getNode('llm');
    const errored = new Promise<any>((resolve) => llm.on('call:error', resolve));
    llm.receive({ payload: { foo: 1 } });
    const call = await errored;
    assert.match(String(call.args[0]?.message ?? call.args[0]), /msg\.payload/);
    assert.equal(fake.chatRequests().length, 0);
  });

  it('tool result with an unknown id: done(err) that says why', async () => {
    await helper.load([toolResultNode], [{ id: 'tr', type: 'clawflow-tool-result' }]);
    const tr = helper.getNode('tr');
    const errored = new Promise<any>((resolve) => tr.on('call:error', resolve));
    tr.receive({ payload: 'x', toolCall: { id: 'nope', name: 'weather' } });
    const call = await errored;
    assert.ok(call.args[0]);
  });
});

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
