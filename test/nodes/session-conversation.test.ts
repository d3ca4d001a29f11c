import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'fs/promises';
import os from 'os';
import path from 'path';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { findGateway, SUMMARY_HEADER } from '../../src/gateway';
import { liveSteers } from '../../src/turn-steering';
import { chatOf } from '../fakes/gateway-worker';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const mods = ['sessions', 'session', 'session-end', 'llm-provider', 'llm', 'tool-result'].map((b) => require(`../../nodes/${b}`));
const catalogs = ['sessions', 'session', 'session-end', 'llm'].map((b) => require(`../../locales/en-US/${b}.json`));

/** The helper's RED._ returns keys; give the nodes the real en-US texts instead. */
function translate(key: string, params: Record<string, unknown> = {}): string {
  for (const c of catalogs) {
    const v = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), c);
    if (typeof v === 'string') return v.replace(/__(\w+)__/g, (_m, n) => (n in params ? String(params[n]) : `__${n}__`));
  }
  return key;
}
const nodes = mods.map((mod) => (RED: any) => {
  RED._ = translate;
  return mod(RED);
});

const KEY = 'sk-conv-test-key-123456';
const lookup = { name: 'lookup', description: 'Look something up', schema: '{"type":"object","properties":{"q":{"type":"string"}}}' };

/** session -> llm (one port tool) -> session end -> out; session output 2 -> notice. */
function flow(url: string, cfg: Record<string, unknown> = {}) {
  return [
    { id: 'cfg', type: 'clawflow-sessions', store: 'memory', concurrency: 10, maxWaiting: 1000, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group', threads: true, historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', ...cfg },
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: url, model: 'fake-model', timeout: 10 },
    { id: 's1', type: 'clawflow-session', sessions: 'cfg', wires: [['llm'], ['notice']] },
    { id: 'llm', type: 'clawflow-llm', provider: 'p1', stream: false, tools: [lookup], wires: [['e1'], ['err'], ['tool']] },
    { id: 'e1', type: 'clawflow-session-end', sessions: 'cfg', wires: [['out']] },
    { id: 'tr', type: 'clawflow-tool-result' },
    ...['notice', 'err', 'tool', 'out'].map((id) => ({ id, type: 'helper' })),
  ];
}

function tap(id: string) {
  const got: any[] = [];
  const waiting: ((m: any) => void)[] = [];
  helper.getNode(id).on('input', (m: any) => (waiting.length ? waiting.shift()!(m) : got.push(m)));
  return {
    got,
    next(ms = 5000): Promise<any> {
      if (got.length) return Promise.resolve(got.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing arrived at ${id}`)), ms);
        waiting.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
    },
  };
}

/** Poll a condition of the system under test (the code under test itself never sleeps). */
async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('session gateway: conversation management (nodes, with the llm node)', function () {
  let fake: OpenAIFake;
  let dir: string;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: KEY }).start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-convn-'));
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('steer: a message sent while the llm waits for a tool reaches the model before it continues', async () => {
    fake.enqueue({ toolCalls: [{ name: 'lookup', arguments: { q: 'tables' } }] }, { text: 'Booked a table for 4.' });
    await helper.load(nodes, flow(fake.url, { mode: 'steer' }), { p1: { apiKey: KEY } });
    const tool = tap('tool');
    const out = tap('out');
    const s1 = helper.getNode('s1');
    s1.receive({ payload: 'book a table', chat: chatOf('alice', { text: 'book a table' }) });
    const call = await tool.next();
    assert.equal(call.toolCall.name, 'lookup');
    s1.receive({ payload: 'for 4 people', chat: chatOf('alice', { text: 'for 4 people' }) });
    await until('the steer message to be accepted', () => findGateway('cfg')!.stats().accepted === 2);
    helper.getNode('tr').receive({ ...call, payload: 'free tables: 2' });
    const final = await out.next();
    assert.equal(final.payload, 'Booked a table for 4.');
    const second = fake.chatRequests()[1].body.messages;
    const last = second[second.length - 1];
    assert.deepEqual([last.role, last.content], ['user', 'for 4 people']);
    assert.equal(second[second.length - 2].role, 'tool');
    const hist = await findGateway('cfg')!.history(final.session.key);
    assert.deepEqual(hist.map((h) => h.content), ['book a table', 'for 4 people', 'Booked a table for 4.']);
    assert.equal(fake.chatRequests().length, 2, 'the steered message ran again as its own turn');
    assert.equal(liveSteers(), 0);
    // session end adds the session's running total to msg.usage
    assert.equal(final.usage.totalTokens, 30); // two requests, 10 + 5 each (the fake's usage)
    assert.deepEqual(final.usage.session, { messages: 0, tokens: 30, inputTokens: 20, outputTokens: 10 });
  });

  it('compaction: the provider of the llm node writes the summary, the chat gets one notice line', async () => {
    await helper.load(nodes, flow(fake.url, { compact: true, keepTurns: 1, historyTokens: 300 }), { p1: { apiKey: KEY } });
    const out = tap('out');
    const notice = tap('notice');
    const s1 = helper.getNode('s1');
    for (let i = 0; i < 4; i++) {
      const text = `question ${i} ${'words '.repeat(40)}`;
      s1.receive({ payload: text, chat: chatOf('bob', { text }) });
      await out.next();
    }
    const summaries = fake.chatRequests().filter((r) => /^Summarise the conversation/.test(r.body.messages[0].content));
    const summaryReq = summaries[0];
    assert.ok(summaryReq, 'no summary request reached the provider');
    assert.equal(summaryReq.body.tools, undefined);
    const n = await notice.next();
    assert.equal(n.reason, 'compacted');
    assert.equal(n.payload, '(Earlier messages in this chat were summarised to save space.)');
    assert.equal(n.chat.chatId, 'bob');
    assert.equal(notice.got.length, summaries.length - 1, 'not one notice per compaction');
    assert.ok(!n.payload.includes('\n'));
    const after = fake.chatRequests()[fake.chatRequests().indexOf(summaryReq) + 1].body.messages;
    assert.ok(after[0].content.startsWith(SUMMARY_HEADER), 'the turn after the summary did not start with it');
    // the transcript is whole
    assert.equal((await findGateway('cfg')!.history('telegram:bot1:dm:bob')).length, 8);
  });

  it('budgets hold across a redeploy: one polite reply a day, then silent drops counted', async () => {
    const f = flow(fake.url, { store: 'file', dir, budgetPeerMessages: 1 });
    await helper.load(nodes, f, { p1: { apiKey: KEY } });
    const s1 = helper.getNode('s1');
    s1.receive({ payload: 'hi', chat: chatOf('carol', { text: 'hi' }) });
    await tap('out').next();
    await helper.unload();
    await helper.load(nodes, f, { p1: { apiKey: KEY } });
    const notice = tap('notice');
    const s2 = helper.getNode('s1');
    s2.receive({ payload: 'again', chat: chatOf('carol', { text: 'again' }) });
    const m = await notice.next();
    assert.equal(m.reason, 'budget_exceeded');
    assert.match(m.payload, /today's limit/);
    s2.receive({ payload: 'and again', chat: chatOf('carol', { text: 'and again' }) });
    await until('the silent drop', () => findGateway('cfg')!.stats().budgetDropped === 1);
    assert.equal(notice.got.length, 0);
    assert.equal(fake.chatRequests().length, 1);
  });

  it('a turn whose lease expired is reported on output 2 with an apology for the chat', async () => {
    const f = flow(fake.url, { leaseSeconds: 1 });
    f[2].wires = [['stuck'], ['notice']];
    f.push({ id: 'stuck', type: 'helper' } as any);
    await helper.load(nodes, f, { p1: { apiKey: KEY } });
    const notice = tap('notice');
    const chat = chatOf('dave', { text: 'hello?' });
    helper.getNode('s1').receive({ payload: 'hello?', chat });
    const m = await notice.next(4000);
    assert.equal(m.reason, 'turn_expired');
    assert.equal(m.payload, 'Sorry, I could not finish answering that. Please send your message again.');
    assert.deepEqual(m.chat, chat);
    assert.equal(m.session.key, 'telegram:bot1:dm:dave');
  });

  it('group context reaches the model as marked context; /queue and /compact answer on output 2', async () => {
    await helper.load(nodes, flow(fake.url, { queueCommand: true, compact: true }), { p1: { apiKey: KEY } });
    const out = tap('out');
    const notice = tap('notice');
    const s1 = helper.getNode('s1');
    const chat = chatOf('g7', { chatType: 'group', senderId: 'eve', senderName: 'Eve', text: '@bot thoughts?' });
    s1.receive({ payload: '@bot thoughts?', chat, groupContext: [{ senderId: 'f', senderName: 'Finn', text: 'rain tomorrow', ts: 1 }] });
    await out.next();
    const sent = fake.chatRequests()[0].body.messages;
    assert.deepEqual(sent.map((x: any) => x.content), ['[group messages since your last reply]\nFinn: rain tomorrow', '@bot thoughts?']);
    s1.receive({ payload: '/queue steer', chat: { ...chat, text: '/queue steer' } });
    const q = await notice.next();
    assert.equal(q.reason, 'queue_mode');
    assert.equal(q.payload, 'Queue mode for this chat: steer.');
    s1.receive({ payload: '/compact', chat: { ...chat, text: '/compact' } });
    const c = await notice.next();
    assert.equal(c.reason, 'compacted');
    assert.equal(c.payload, 'Nothing to summarise yet.');
  });
});
