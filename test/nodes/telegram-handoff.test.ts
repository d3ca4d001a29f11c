/**
 * Decision 0160 in a real Node-RED runtime: telegram in -> route filter -> session against the
 * fake Bot API. An update is confirmed to Telegram once the session node journaled the
 * message (or the route filter rejected it), not when it left telegram in; what a closing
 * node did not take is delivered again to the next deploy.
 */
import assert from 'assert';
import { helper, waitForStatus } from '../support/node-red';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api';
import { botConfig, telegramTestSettings } from '../fakes/telegram-flow';
import { acceptHandoffs, expectHandoff, HANDOFF_PROP, newHandoffId, pendingHandoffs } from '../../src/handoff';

const NODES = ['telegram-bot', 'telegram-in', 'route-filter', 'sessions', 'session'].map((b) => require(`../../nodes/${b}`));
/** Far beyond any wait below: a confirmation within the test proves a hand-off, not the bound. */
const BOUND_MS = 60_000;

describe('telegram hand-off to the session node (decision 0160)', function () {
  this.timeout(20_000);
  let tg: FakeTelegram;
  let settings: ReturnType<typeof telegramTestSettings>;

  beforeEach(async () => {
    tg = await startFakeTelegram();
    settings = telegramTestSettings();
    settings.clawflowTelegram = { ...settings.clawflowTelegram, handoffTimeoutMs: BOUND_MS } as typeof settings.clawflowTelegram;
    helper.settings(settings);
  });
  afterEach(async () => {
    await helper.unload();
    await tg.close();
    helper.settings({});
    assert.strictEqual(pendingHandoffs(), 0, 'a hand-off was left waiting');
  });

  function flow(opts: { dmPolicy?: string; session?: boolean } = {}) {
    const cfg = botConfig(tg);
    const withSession = opts.session !== false;
    return {
      nodes: [
        cfg.node,
        { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [[withSession ? 'rf' : 'sink']] },
        { id: 'rf', type: 'clawflow-route-filter', dmPolicy: opts.dmPolicy ?? 'open', groupPolicy: 'open', requireMention: false, output2: 'all', wires: [['s1'], ['rejected']] },
        ...(withSession
          ? [
              { id: 'cfg', type: 'clawflow-sessions', store: 'memory', concurrency: 10, maxWaiting: 100, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', historyMessages: 40, historyTokens: 8000 },
              { id: 's1', type: 'clawflow-session', sessions: 'cfg', wires: [['turns'], ['busy']] },
            ]
          : []),
        { id: 'sink', type: 'helper' },
        { id: 'turns', type: 'helper' },
        { id: 'busy', type: 'helper' },
        { id: 'rejected', type: 'helper' },
      ],
      credentials: cfg.credentials,
    };
  }

  function nextMsg(node: any, ms = 5000): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message')), ms);
      node.once('input', (msg: any) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
  }

  /** Send `msg` into node `id`; resolves with the error of done(err), or undefined. */
  function deliver(id: string, msg: any): Promise<Error | undefined> {
    const n = helper.getNode(id);
    const orig = n._complete;
    return new Promise((resolve) => {
      n._complete = function (m: any, err?: Error) {
        orig.call(this, m, err);
        if (m?._msgid === msg._msgid) {
          n._complete = orig;
          resolve(err);
        }
      };
      n.receive(msg);
    });
  }

  async function load(f: ReturnType<typeof flow>) {
    await helper.load(NODES, f.nodes, f.credentials);
    await waitForStatus(helper.getNode('in'), (s) => /polling/.test(s.text));
  }

  it('confirms the update once the session node journaled the message; the id does not travel on', async () => {
    await load(flow());
    const turn = nextMsg(helper.getNode('turns'));
    const u = tg.userSays('keep me');
    const msg = await turn;
    assert.strictEqual(msg.payload, 'keep me');
    assert.strictEqual(HANDOFF_PROP in msg, false, 'the hand-off id left the session node');
    await tg.waitFor(() => tg.pending() === 0, 'the update confirmed (long before the bound)');
    assert.ok(tg.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset) === u.update_id + 1));
  });

  it('a message the route filter rejects is handed off there: confirmed without waiting for the bound', async () => {
    await load(flow({ dmPolicy: 'disabled' }));
    const rejected = nextMsg(helper.getNode('rejected'));
    tg.userSays('not allowed');
    const msg = await rejected;
    assert.strictEqual(msg.reason, 'dm_disabled');
    assert.strictEqual(HANDOFF_PROP in msg, false);
    await tg.waitFor(() => tg.pending() === 0, 'the rejected update confirmed');
  });

  it('without a session node deployed nothing waits: the message carries no hand-off id', async () => {
    await load(flow({ session: false }));
    const got = nextMsg(helper.getNode('sink'));
    tg.userSays('no session here');
    const msg = await got;
    assert.strictEqual(HANDOFF_PROP in msg, false);
    await tg.waitFor(() => tg.pending() === 0, 'confirmed at once');
  });

  it('while the deployed session node is stopped (restarting alone), messages are still tagged', async () => {
    await load(flow());
    // Close only the session node, as a partial deploy does before starting its new version.
    await new Promise<void>((resolve) => helper.getNode('s1').close(false).then(resolve));
    const rf = helper.getNode('rf');
    const tagged = new Promise<any>((resolve) => rf.once('input', resolve));
    tg.userSays('into the gap');
    const msg = await tagged;
    assert.strictEqual(typeof msg[HANDOFF_PROP], 'string', 'tagged although no session node is running');
  });

  it('a message still on its way at close is not confirmed: the next deploy gets it again', async () => {
    // A session node elsewhere (simulated): telegram in waits, but this path never hands off.
    const release = acceptHandoffs();
    try {
      await load(flow({ session: false }));
      const first = nextMsg(helper.getNode('sink'));
      const u = tg.userSays('on a wire');
      assert.strictEqual((await first)[HANDOFF_PROP] !== undefined, true, 'telegram in tagged the message');
      await helper.unload(); // the redeploy: telegram in cancels, the poller stops before the update
      assert.strictEqual(tg.pending(), 1, 'Telegram still holds the update');
      assert.ok(!tg.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset) > u.update_id), 'confirmed before the hand-off');
      helper.settings(settings);
      await load(flow({ session: false }));
      const again = await nextMsg(helper.getNode('sink'));
      assert.strictEqual(again.payload, 'on a wire');
    } finally {
      release();
    }
  });

  /**
   * Run a node's close handlers without Node-RED's last step (removing the input listeners):
   * the window of a deploy in which a message still on a wire reaches a node that closed.
   */
  function closeHandlersOf(n: any): void {
    for (const cb of n._closeCallbacks) cb.call(n, false, () => undefined);
  }

  it('a message reaching a session node that closed: done(err), no hand-off (the channel re-delivers)', async () => {
    await load(flow());
    const s1 = helper.getNode('s1');
    closeHandlersOf(s1);
    const id = newHandoffId();
    const outcome = expectHandoff(id, BOUND_MS);
    const err = await deliver('s1', { _msgid: 'm-closed', payload: 'late', chat: { channel: 'telegram', account: '1', chatId: '5', chatType: 'direct', senderId: '5', text: 'late' }, [HANDOFF_PROP]: id });
    assert.match(String(err?.message), /closed/);
    assert.strictEqual(await outcome, 'cancelled');
  });

  it('a message reaching a route filter that closed: done(err), no hand-off', async () => {
    await load(flow());
    const rf = helper.getNode('rf');
    closeHandlersOf(rf);
    const id = newHandoffId();
    const outcome = expectHandoff(id, BOUND_MS);
    const err = await deliver('rf', { _msgid: 'm-rf', payload: 'late', chat: { channel: 'telegram', account: '1', chatId: '5', chatType: 'direct', senderId: '5', text: 'late' }, [HANDOFF_PROP]: id });
    assert.match(String(err?.message), /closed/);
    assert.strictEqual(await outcome, 'cancelled');
  });

  it('a message Node-RED drops at a node closed by a redeploy is delivered again (the bound counts as "not taken")', async () => {
    settings.clawflowTelegram = { ...settings.clawflowTelegram, handoffTimeoutMs: 300 } as typeof settings.clawflowTelegram;
    helper.settings(settings);
    await load(flow());
    // The session node is gone for good (input listeners too): Node-RED drops what reaches it.
    await helper.getNode('s1').close(false);
    const other = acceptHandoffs(); // a session node elsewhere keeps telegram in waiting
    let released = false;
    try {
      const u = tg.userSays('dropped at a closed node');
      await tg.waitFor(() => pendingHandoffs() === 1, 'telegram in waiting for the hand-off');
      other(); // that one closes too (the deploy goes on) while the message is lost
      released = true;
      await tg.waitFor(() => tg.calls.some((c) => c.method === 'getUpdates' && Number(c.params.offset) === u.update_id), 'the update asked for again');
      // Delivered again; with no session node left nothing waits, and it is confirmed.
      await tg.waitFor(() => tg.pending() === 0, 'confirmed after the re-delivery');
    } finally {
      if (!released) other();
    }
  });
});
