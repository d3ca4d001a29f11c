/**
 * Decision 0170 in a real Node-RED runtime: webchat in -> session, with a scripted browser
 * speaking the page's protocol. The page gets its "received" ack (its own message shown back)
 * only once the session node journaled the message; a message the flow did not take (a closing
 * session node, a redeploy) gets no ack, stays pending on the page and is accepted when the
 * page sends it again.
 */
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { helper, mountHttpNode, webchatModules } from '../fakes/webchat-flow';
import { WebchatTestClient } from '../fakes/webchat-client';
import { acceptHandoffs, HANDOFF_PROP, pendingHandoffs } from '../../src/handoff';

const NODES = [...webchatModules, require('../../nodes/sessions'), require('../../nodes/session')];
const PEER = 'peer-handoff-aaaaaaaa';
/** Far beyond any wait below: an ack within the test proves a hand-off, not the bound. */
const BOUND_MS = 60_000;

function flow(opts: { session?: boolean; echo?: boolean } = {}) {
  const withSession = opts.session !== false;
  return [
    { id: 'cfg', type: 'clawflow-webchat', name: 'chat', path: '/clawflow/chat', title: '', historyLimit: 50, origins: '' },
    { id: 'in', type: 'clawflow-webchat-in', webchat: 'cfg', wires: [[withSession ? 's1' : 'sink', ...(opts.echo ? ['fn'] : [])]] },
    ...(withSession
      ? [
          { id: 'sessions', type: 'clawflow-sessions', store: 'memory', concurrency: 10, maxWaiting: 100, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', historyMessages: 40, historyTokens: 8000 },
          { id: 's1', type: 'clawflow-session', sessions: 'sessions', wires: [['turns'], ['busy']] },
        ]
      : []),
    { id: 'fn', type: 'function', func: 'msg.payload = "echo: " + msg.payload; return msg;', outputs: 1, wires: [['out']] },
    { id: 'out', type: 'clawflow-webchat-out', webchat: 'cfg', wires: [] },
    { id: 'sink', type: 'helper' },
    { id: 'turns', type: 'helper' },
    { id: 'busy', type: 'helper' },
  ];
}

describe('webchat hand-off to the session node (decision 0170, node-red ' + (process.env.CLAWFLOW_NODE_RED || '4') + ')', function () {
  this.timeout(20_000);
  let userDir: string;
  let page: string;
  const clients: WebchatTestClient[] = [];

  function settings(handoffTimeoutMs = BOUND_MS) {
    helper.settings({ userDir, clawflowWebchat: { handoffTimeoutMs } });
  }
  async function connect(opts: Partial<Parameters<typeof WebchatTestClient.connect>[1]> = {}) {
    const c = await WebchatTestClient.connect(page, { peerId: PEER, ...opts });
    clients.push(c);
    return c;
  }
  function nextMsg(id: string, ms = 5000): Promise<any> {
    const node = helper.getNode(id);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message at ${id}`)), ms);
      node.once('input', (msg: any) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  }
  /** Run a node's close handlers but leave its input listener: a message still reaches it. */
  function closeHandlersOf(n: any): void {
    for (const cb of n._closeCallbacks) cb.call(n, false, () => undefined);
  }
  const userEvents = (c: WebchatTestClient, clientId: string) =>
    c.frames.filter((f) => f.type === 'event' && f.event.role === 'user' && f.event.clientId === clientId);

  beforeEach(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-webchat-handoff-'));
    settings();
    await helper.startServer();
    mountHttpNode();
    page = helper.url() + '/clawflow/chat/';
  });

  afterEach(async function () {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
    assert.strictEqual(pendingHandoffs(), 0, 'a hand-off was left waiting');
  });

  it('acks a message once the session node journaled it; the hand-off id does not travel on', async function () {
    await helper.load(NODES, flow());
    const c = await connect();
    const turn = nextMsg('turns');
    c.send('keep me', 'k1');
    const msg = await turn;
    assert.strictEqual(msg.payload, 'keep me');
    assert.strictEqual(HANDOFF_PROP in msg, false, 'the hand-off id left the session node');
    const ack = await c.waitForEvent((e) => e.role === 'user' && e.clientId === 'k1');
    assert.strictEqual(ack.text, 'keep me');
    assert.strictEqual(ack.id, msg.chat.messageId, 'the ack is the message the flow got');
  });

  it('a message reaching a closing session node is not acked, and is accepted after the redeploy when the page resends it', async function () {
    // The message left webchat in while a session node was deployed (here: another one keeps
    // webchat in tagging after s1's close released its own), and reaches s1 after its close ran.
    const release = acceptHandoffs();
    try {
      await helper.load(NODES, flow());
      const c = await connect();
      const errors: string[] = [];
      const s1 = helper.getNode('s1');
      s1.on('call:error', (call: any) => errors.push(String(call.args[0]?.message ?? call.args[0])));
      closeHandlersOf(s1); // the deploy has started closing the session node
      c.send('sent mid-deploy', 'm1');
      const retry = await c.waitFor((f) => f.type === 'retry');
      assert.deepStrictEqual(retry, { type: 'retry', clientId: 'm1', afterMs: 1000 });
      assert.strictEqual(userEvents(c, 'm1').length, 0, 'acked although not taken');
      assert.match(errors.join('\n'), /closed/);
      // The redeploy: the socket goes away (1001), the page reconnects and sends what is pending.
      const closed = new Promise<number>((resolve) => c.ws.once('close', (code: number) => resolve(code)));
      await helper.unload();
      assert.strictEqual(await closed, 1001);
      await helper.load(NODES, flow());
      const c2 = await connect({ epoch: c.welcome.epoch, lastSeq: 0 });
      assert.deepStrictEqual(c2.welcome.events.filter((e) => e.role === 'user'), [], 'nothing was recorded for the refused message');
      const turn = nextMsg('turns');
      c2.send('sent mid-deploy', 'm1');
      assert.strictEqual((await turn).payload, 'sent mid-deploy');
      const ack = await c2.waitForEvent((e) => e.role === 'user' && e.clientId === 'm1');
      assert.strictEqual(ack.text, 'sent mid-deploy');
    } finally {
      release();
    }
  });

  it('a message still waiting when the flow is redeployed gets no ack and no retry: the page resends it to the next deploy', async function () {
    // A session node elsewhere (simulated): webchat in waits, but this path never hands off.
    const release = acceptHandoffs();
    try {
      await helper.load(NODES, flow({ session: false }));
      const c = await connect();
      const got = nextMsg('sink');
      c.send('on a wire', 'w1');
      assert.ok((await got)[HANDOFF_PROP], 'webchat in tagged the message');
      await helper.unload(); // webchat in cancels its hand-off; the server closes the socket
      await c.closed;
      assert.deepStrictEqual(
        c.frames.filter((f) => f.type !== 'welcome'),
        [],
        'no ack and no retry frame for a message the closing flow did not take',
      );
      await helper.load(NODES, flow({ session: false }));
      const c2 = await connect();
      assert.deepStrictEqual(c2.welcome.events, [], 'the refused message was not recorded');
      const again = nextMsg('sink');
      c2.send('on a wire', 'w1');
      assert.strictEqual((await again).payload, 'on a wire');
    } finally {
      release();
    }
  });

  it('without a session node the ack comes at once; the message carries no hand-off id', async function () {
    await helper.load(NODES, flow({ session: false }));
    const c = await connect();
    const got = nextMsg('sink');
    c.send('no session here', 'n1');
    assert.strictEqual(HANDOFF_PROP in (await got), false);
    await c.waitForEvent((e) => e.role === 'user' && e.clientId === 'n1');
  });

  it('on a path without a session node (one deployed elsewhere) the ack comes after the bound, and the reply below the question', async function () {
    settings(200);
    const release = acceptHandoffs();
    try {
      await helper.load(NODES, flow({ session: false, echo: true }));
      const c = await connect();
      c.send('where is my answer', 'b1');
      const reply = await c.waitForEvent((e) => e.role === 'bot' && e.done);
      const ack = await c.waitForEvent((e) => e.role === 'user' && e.clientId === 'b1');
      assert.strictEqual(reply.text, 'echo: where is my answer');
      // The reply came back long before the bound; it waited so the page shows it after the question.
      assert.ok(ack.seq < reply.seq, `question seq ${ack.seq} before reply seq ${reply.seq}`);
      const order = c.frames.filter((f) => f.type === 'event').map((f: any) => f.event.role);
      assert.deepStrictEqual(order, ['user', 'bot']);
    } finally {
      release();
    }
  });

  it('a resend of a message still waiting shares its outcome: one turn, acked on both sockets', async function () {
    await helper.load(NODES, flow());
    let turns = 0;
    helper.getNode('turns').on('input', () => turns++);
    const a = await connect();
    const b = await connect();
    const turn = nextMsg('turns');
    a.send('twice?', 'd1');
    b.send('twice?', 'd1');
    await a.waitForEvent((e) => e.role === 'user' && e.clientId === 'd1');
    await b.waitForEvent((e) => e.role === 'user' && e.clientId === 'd1');
    await turn;
    const c = await connect();
    assert.strictEqual(c.welcome.events.filter((e) => e.role === 'user').length, 1);
    assert.strictEqual(turns, 1);
  });
});
