import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'fs/promises';
import os from 'os';
import path from 'path';
import OpenAI from 'openai';
import { helper } from '../support/node-red';
import { findGateway } from '../../src/gateway';
import { turnSignal } from '../../src/turn-signals';
import { GatewaySlowLlm } from '../fakes/gateway-slow-llm';
import { chatOf } from '../fakes/gateway-worker';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const sessionsNode = require('../../nodes/sessions');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sessionNode = require('../../nodes/session');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sessionEndNode = require('../../nodes/session-end');
const catalogs = ['sessions', 'session', 'session-end'].map((b) => require(`../../locales/en-US/${b}.json`));

/** The helper's RED._ returns keys; give the nodes the real en-US texts instead. */
function translate(key: string, params: Record<string, unknown> = {}): string {
  for (const c of catalogs) {
    const v = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), c);
    if (typeof v === 'string') return v.replace(/__(\w+)__/g, (_m, n) => (n in params ? String(params[n]) : `__${n}__`));
  }
  return key;
}
const nodes = [sessionsNode, sessionNode, sessionEndNode].map((mod) => (RED: any) => {
  RED._ = translate;
  return mod(RED);
});

function flow(cfg: Record<string, unknown>, endConfig: Record<string, unknown> = { sessions: 'cfg' }) {
  return [
    { id: 'cfg', type: 'clawflow-sessions', store: 'memory', concurrency: 10, maxWaiting: 1000, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group', threads: true, historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', ...cfg },
    { id: 's1', type: 'clawflow-session', sessions: 'cfg', wires: [['turns'], ['busy']] },
    { id: 'e1', type: 'clawflow-session-end', ...endConfig, wires: [['out']] },
    { id: 'turns', type: 'helper' },
    { id: 'busy', type: 'helper' },
    { id: 'out', type: 'helper' },
  ];
}

/** Queue of messages arriving at a helper node. */
function tap(id: string) {
  const got: any[] = [];
  const waiting: ((m: any) => void)[] = [];
  helper.getNode(id).on('input', (m: any) => (waiting.length ? waiting.shift()!(m) : got.push(m)));
  return {
    got,
    next(ms = 4000): Promise<any> {
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

function nextCall(node: any, kind: 'error' | 'warn'): Promise<any> {
  return new Promise((resolve) => node.once(`call:${kind}`, (call: any) => resolve(call)));
}

describe('session / session end nodes', function () {
  let fake: GatewaySlowLlm;
  let dir: string;
  let client: OpenAI;

  beforeEach(async () => {
    fake = await new GatewaySlowLlm().start();
    client = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 0 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-gwn-'));
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What the llm node does between session and session end, against the loopback fake. */
  async function answer(msg: any): Promise<any> {
    const res = await client.chat.completions.create(
      { model: 'slow-echo', messages: msg.session.history.map((h: any) => ({ role: h.role, content: h.content })) },
      { headers: { 'x-session-key': msg.session.key }, signal: turnSignal(msg.session.turnId) },
    );
    return { ...msg, payload: res.choices[0].message.content, stream: { id: 'r', seq: 1, delta: '', done: true } };
  }

  it('opens a turn with msg.session, and session end appends the reply and passes it on', async () => {
    await helper.load(nodes, flow({}));
    const turns = tap('turns');
    const out = tap('out');
    const s1 = helper.getNode('s1');
    const chat = chatOf('42', { text: 'hello' });
    s1.receive({ payload: 'hello', chat, topic: 'keep me' });
    const m = await turns.next();
    assert.equal(m.payload, 'hello');
    assert.equal(m.topic, 'keep me');
    assert.deepEqual(m.chat, chat);
    assert.equal(m.session.key, 'telegram:bot1:dm:42');
    assert.equal(m.session.configId, 'cfg');
    assert.equal(typeof m.session.turnId, 'string');
    assert.equal(typeof m.session.fence, 'number');
    assert.deepEqual(m.session.history.map((h: any) => [h.role, h.content]), [['user', 'hello']]);
    assert.deepEqual(m.session.context, {});
    const e1 = helper.getNode('e1');
    // a streamed partial passes through and does not end the turn
    e1.receive({ ...m, payload: 'ec', stream: { id: 'r', seq: 0, delta: 'ec', done: false } });
    assert.equal((await out.next()).payload, 'ec');
    assert.equal(findGateway('cfg')!.stats().active, 1);
    e1.receive(await answer(m));
    const final = await out.next();
    assert.equal(final.payload, 'echo: hello');
    assert.deepEqual(final.chat, chat);
    const hist = await findGateway('cfg')!.history('telegram:bot1:dm:42');
    assert.deepEqual(hist.map((h) => h.content), ['hello', 'echo: hello']);
    assert.equal(findGateway('cfg')!.stats().active, 0);
  });

  it('shows "N active, M waiting" on the session node', async () => {
    await helper.load(nodes, flow({ concurrency: 1 }));
    const s1 = helper.getNode('s1');
    const turns = tap('turns');
    const seen: string[] = [];
    const orig = s1.status.bind(s1);
    s1.status = (st: any) => {
      seen.push(st.text);
      orig(st);
    };
    s1.receive({ payload: 'a', chat: chatOf('1') });
    s1.receive({ payload: 'b', chat: chatOf('2') });
    await turns.next();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => seen.includes('1 active, 1 waiting') && (clearInterval(check), resolve()), 10);
    });
    assert.ok(seen.includes('1 active, 1 waiting'), JSON.stringify(seen));
  });

  it('sends a ready busy reply on output 2 when the backlog is full, never drops', async () => {
    await helper.load(nodes, flow({ concurrency: 1, maxWaiting: 1 }));
    const turns = tap('turns');
    const busy = tap('busy');
    const s1 = helper.getNode('s1');
    s1.receive({ payload: 'one', chat: chatOf('1') });
    await turns.next();
    s1.receive({ payload: 'two', chat: chatOf('2') });
    const chat3 = chatOf('3');
    s1.receive({ payload: 'three', chat: chat3 });
    const b = await busy.next();
    assert.equal(b.reason, 'busy');
    assert.equal(b.payload, "I'm handling a lot of messages right now. Please try again in a moment.");
    assert.equal(b.userText, 'three');
    assert.deepEqual(b.chat, chat3);
  });

  it('answers /reset on output 2 with reason session_reset and clears the history', async () => {
    await helper.load(nodes, flow({ resetText: 'Fresh start!' }));
    const turns = tap('turns');
    const busy = tap('busy');
    const s1 = helper.getNode('s1');
    const e1 = helper.getNode('e1');
    s1.receive({ payload: 'remember me', chat: chatOf('1') });
    e1.receive(await answer(await turns.next()));
    s1.receive({ payload: '/reset', chat: chatOf('1', { text: '/reset' }) });
    const r = await busy.next();
    assert.equal(r.reason, 'session_reset');
    assert.equal(r.payload, 'Fresh start!');
    assert.deepEqual(await findGateway('cfg')!.history('telegram:bot1:dm:1'), []);
  });

  it('reports bad input with done(err) naming what is missing', async () => {
    await helper.load(nodes, flow({ channels: 'telegram, discord' }));
    const s1 = helper.getNode('s1');
    let err = nextCall(s1, 'error');
    s1.receive({ payload: 'x' });
    assert.match((await err).firstArg.message ?? String((await err).firstArg), /msg\.chat is missing/);
    err = nextCall(s1, 'error');
    s1.receive({ payload: 'x', chat: chatOf('1', { channel: 'irc' }) });
    assert.match(String((await err).firstArg), /"irc" is not one this session gateway serves/);
    const e1 = helper.getNode('e1');
    err = nextCall(e1, 'error');
    e1.receive({ payload: 'reply' });
    assert.match(String((await err).firstArg), /msg\.session is missing/);
  });

  it('a session end without its own config finds the gateway by msg.session.configId', async () => {
    await helper.load(nodes, flow({}, {}));
    const turns = tap('turns');
    const out = tap('out');
    helper.getNode('s1').receive({ payload: 'hi', chat: chatOf('1') });
    helper.getNode('e1').receive(await answer(await turns.next()));
    await out.next();
    assert.equal((await findGateway('cfg')!.history('telegram:bot1:dm:1')).length, 2);
  });

  it('releases a stuck turn after the lease and warns with the session key; a late end is not appended', async () => {
    await helper.load(nodes, flow({ leaseSeconds: 0.1 }));
    const turns = tap('turns');
    const out = tap('out');
    const s1 = helper.getNode('s1');
    const warned = nextCall(s1, 'warn');
    s1.receive({ payload: 'stuck', chat: chatOf('7') });
    const stuck = await turns.next(); // never reaches session end in time
    s1.receive({ payload: 'next', chat: chatOf('7') });
    assert.match(String((await warned).firstArg), /session telegram:bot1:dm:7: the turn was released/);
    const next = await turns.next();
    assert.equal(next.payload, 'next');
    const e1 = helper.getNode('e1');
    const lateWarn = nextCall(e1, 'warn');
    e1.receive({ ...stuck, payload: 'late' });
    assert.match(String((await lateWarn).firstArg), /already released/);
    assert.equal((await out.next()).payload, 'late', 'the late reply still passes on');
    e1.receive(await answer(next));
    await out.next();
    const hist = await findGateway('cfg')!.history('telegram:bot1:dm:7');
    assert.deepEqual(hist.map((h) => h.content), ['stuck', 'next', 'echo: next']);
  });

  it('after a redeploy on the same store directory, unfinished turns run again with their history', async () => {
    const cfg = { store: 'file', dir, concurrency: 1 };
    await helper.load(nodes, flow(cfg));
    let turns = tap('turns');
    let s1 = helper.getNode('s1');
    s1.receive({ payload: 'first', chat: chatOf('1') });
    helper.getNode('e1').receive(await answer(await turns.next()));
    s1.receive({ payload: 'second', chat: chatOf('1') });
    const running = await turns.next();
    const gw = findGateway('cfg')!;
    const accepted = new Promise<void>((resolve) => gw.on('change', (st) => st.waiting === 1 && resolve()));
    s1.receive({ payload: 'third', chat: chatOf('2') });
    await accepted; // journaled: from here on a redeploy cannot lose it
    await helper.unload();
    assert.ok(turnSignal(running.session.turnId).aborted, 'the running turn was told to stop');
    assert.equal(findGateway('cfg'), undefined);

    await helper.load(nodes, flow(cfg));
    turns = tap('turns');
    const out = tap('out');
    s1 = helper.getNode('s1');
    const again = await turns.next();
    assert.equal(again.payload, 'second');
    assert.deepEqual(again.chat.senderId, '1');
    assert.deepEqual(again.session.history.map((h: any) => h.content), ['first', 'echo: first', 'second']);
    helper.getNode('e1').receive(await answer(again));
    await out.next();
    const third = await turns.next();
    assert.equal(third.payload, 'third');
  });

  it('gives the route filter a key-value store in the same family', async () => {
    await helper.load(nodes, flow({ store: 'file', dir }));
    const cfg = helper.getNode('cfg') as any;
    await cfg.kvStore('pairing').set('a', 1);
    assert.equal(await cfg.kvStore('pairing').get('a'), 1);
  });
});
