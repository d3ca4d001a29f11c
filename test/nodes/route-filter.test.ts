import assert from 'node:assert/strict';
import { existsSync } from 'fs';
import { mkdtemp, readFile, rm } from 'fs/promises';
import os from 'os';
import path from 'path';
import { helper, waitForStatus } from '../support/node-red';
import { MemoryKeyValueStore } from '../../src/store/kv';
import { discordDm, discordGuild, pairCommand, telegramDm, telegramGroup, webchat } from '../src/routing/envelopes';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const routeFilterNode = require('../../nodes/route-filter');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const enUS = require('../../locales/en-US/route-filter.json');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const zhCN = require('../../locales/zh-CN/route-filter.json');

/**
 * The test helper's RED._ returns the key unchanged. To check the texts a user reads, give
 * the node Node-RED's own interpolation (`__name__`) over the real en-US catalog.
 */
function translate(key: string, params: Record<string, unknown> = {}): string {
  const value = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), enUS);
  if (typeof value !== 'string') return key;
  return value.replace(/__(\w+)__/g, (_m, name) => (name in params ? String(params[name]) : `__${name}__`));
}
function nodeWithTexts(RED: any) {
  RED._ = translate;
  return routeFilterNode(RED);
}

const FILTER_ID = 'rf1';

function flow(config: Record<string, unknown> = {}) {
  return [
    { id: FILTER_ID, type: 'clawflow-route-filter', name: 'rf', wires: [['out1'], ['out2']], dmPolicy: 'pairing', groupPolicy: 'allowlist', requireMention: true, owners: 'telegram:1', allowFrom: '', groupAllow: '', rateLimit: 0, rateWindow: 60, codeTtl: 60, maxPending: 5, output2: 'replies', ...config },
    { id: 'out1', type: 'helper' },
    { id: 'out2', type: 'helper' },
  ];
}

/** Collects what leaves each output; `next(port)` resolves with the next message there. */
function collector() {
  const out1 = helper.getNode('out1');
  const out2 = helper.getNode('out2');
  const got: { 1: any[]; 2: any[] } = { 1: [], 2: [] };
  const waiting: { 1: ((m: any) => void)[]; 2: ((m: any) => void)[] } = { 1: [], 2: [] };
  const take = (port: 1 | 2) => (msg: any) => {
    const w = waiting[port].shift();
    if (w) w(msg);
    else got[port].push(msg);
  };
  out1.on('input', take(1));
  out2.on('input', take(2));
  return {
    got,
    next(port: 1 | 2, ms = 3000): Promise<any> {
      if (got[port].length) return Promise.resolve(got[port].shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing on output ${port}`)), ms);
        waiting[port].push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
    },
  };
}

/**
 * Send `msg` into the filter and resolve when the node calls done: with the error of
 * done(err), or undefined. Watches the node's own completion path (Node.prototype._complete).
 */
function deliver(msg: any): Promise<Error | undefined> {
  const n = helper.getNode(FILTER_ID);
  if (!n.__watched) {
    const orig = n._complete;
    n.__watched = new Map<string, (err?: Error) => void>();
    n._complete = function (m: any, err?: Error) {
      orig.call(this, m, err);
      const w = n.__watched.get(m?._msgid);
      if (w) {
        n.__watched.delete(m._msgid);
        w(err);
      }
    };
  }
  return new Promise((resolve) => {
    n.__watched.set(msg._msgid, resolve);
    n.receive(msg);
  });
}

describe('nodes/route-filter (clawflow-route-filter)', function () {
  let userDir: string;
  let idSeq = 0;
  const msgOf = (chat: any) => ({ _msgid: `m${++idSeq}`, payload: chat.text, chat });

  beforeEach(async () => {
    userDir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-rf-node-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await rm(userDir, { recursive: true, force: true });
  });

  it('a stranger gets a pairing code reply on output 2, the same code again, and the status counts it', async () => {
    await helper.load(nodeWithTexts, flow());
    const n = helper.getNode(FILTER_ID);
    const c = collector();
    const statuses: any[] = [];
    n.on('call:status', (call: any) => statuses.push(call.firstArg));
    const first = msgOf(telegramDm('42', 'hi'));
    assert.equal(await deliver(first), undefined);
    const m1 = await c.next(2);
    assert.equal(m1.reason, 'pairing_required');
    assert.deepEqual(m1.route, { accepted: false, reason: 'pairing_required' });
    assert.match(m1.pairing.code, /^[A-HJ-NP-Z2-9]{8}$/);
    assert.equal(m1.payload, translate('clawflow-route-filter.replies.pairingRequired', { code: m1.pairing.code, minutes: 60 }));
    assert.ok(m1.payload.includes(`/pair approve ${m1.pairing.code}`));
    // The reply goes back to the same chat: the envelope is untouched.
    assert.equal(m1.chat.chatId, '42');
    assert.equal(m1.chat.channel, 'telegram');
    await deliver(msgOf(telegramDm('42', 'hello?')));
    const m2 = await c.next(2);
    assert.equal(m2.reason, 'pairing_pending');
    assert.equal(m2.pairing.code, m1.pairing.code);
    assert.equal(c.got[1].length, 0);
    assert.ok(statuses.some((s) => s.text === '1 pairing request(s) pending' && s.fill === 'yellow'), JSON.stringify(statuses));
  });

  it('approve by input message (topic pairing/approve): the answer is the requester\'s notice, then they are accepted', async () => {
    await helper.load(nodeWithTexts, flow());
    const c = collector();
    await deliver(msgOf(discordDm('333444', 'let me in')));
    const { pairing } = await c.next(2);
    assert.equal(await deliver({ _msgid: 'ctl1', topic: 'pairing/approve', payload: pairing.code.toLowerCase() }), undefined);
    const ack = await c.next(2);
    assert.equal(ack.reason, 'pairing_approved');
    assert.equal(ack.chat.channel, 'discord');
    assert.equal(ack.chat.senderId, '333444');
    assert.equal(ack.chat.chatType, 'direct');
    assert.equal(ack.payload, enUS['clawflow-route-filter'].replies.approvedNotice);
    assert.equal(ack.pairing.peer.approvedBy, 'input');
    const accepted = msgOf(discordDm('333444', 'thanks'));
    await deliver(accepted);
    const through = await c.next(1);
    assert.equal(through._msgid, accepted._msgid);
    assert.equal(through.payload, 'thanks');
    assert.deepEqual(through.route, { accepted: true, reason: 'paired' });
    assert.equal(through.reason, undefined);
  });

  it('an owner approves by chat command: a reply to the owner and a notice to the requester', async () => {
    await helper.load(nodeWithTexts, flow());
    const c = collector();
    await deliver(msgOf(webchat('browser-7')));
    const { pairing } = await c.next(2);
    await deliver(msgOf(telegramDm('1', `/pair approve ${pairing.code}`, { command: pairCommand(`approve ${pairing.code}`) })));
    const reply = await c.next(2);
    const notice = await c.next(2);
    assert.equal(reply.reason, 'pairing_command');
    assert.equal(reply.chat.senderId, '1');
    assert.equal(reply.payload, 'Approved webchat:browser-7.');
    assert.equal(notice.reason, 'pairing_approved');
    assert.equal(notice.chat.channel, 'webchat');
    assert.equal(notice.chat.chatId, 'browser-7');
    assert.notEqual(notice._msgid, reply._msgid);
    await deliver(msgOf(webchat('browser-7', 'yay')));
    assert.equal((await c.next(1)).route.reason, 'paired');
  });

  it('a code sent by the requester does not approve them', async () => {
    await helper.load(nodeWithTexts, flow());
    const c = collector();
    await deliver(msgOf(telegramDm('42')));
    const { pairing } = await c.next(2);
    await deliver(msgOf(telegramDm('42', pairing.code)));
    await deliver(msgOf(telegramDm('42', `/pair approve ${pairing.code}`, { command: pairCommand(`approve ${pairing.code}`) })));
    // A control-looking topic on a chat message is chat, not control.
    const sneaky = { ...msgOf(telegramDm('42', pairing.code)), topic: 'pairing/approve' };
    await deliver(sneaky);
    const reasons = [(await c.next(2)).reason, (await c.next(2)).reason, (await c.next(2)).reason];
    assert.deepEqual(reasons, ['pairing_pending', 'pairing_pending', 'pairing_pending']);
    assert.equal(c.got[1].length, 0);
    await deliver({ _msgid: 'l1', topic: 'pairing/list' });
    const list = await c.next(2);
    assert.deepEqual(list.payload.map((e: any) => e.status), ['pending']);
  });

  it('approvals persist across unload and reload (file in the user dir, keyed by node id)', async () => {
    await helper.load(nodeWithTexts, flow());
    let c = collector();
    await deliver(msgOf(telegramDm('42')));
    const { pairing } = await c.next(2);
    await deliver({ _msgid: 'a1', topic: 'pairing/approve', payload: pairing.code });
    await c.next(2);
    const file = path.join(userDir, 'clawflow', 'pairing', `${FILTER_ID}.json`);
    assert.ok(existsSync(file), 'store file in the user dir');
    assert.match(await readFile(file, 'utf8'), /"approved:telegram:42"/);
    await helper.unload();

    await helper.load(nodeWithTexts, flow());
    c = collector();
    await deliver(msgOf(telegramDm('42', 'back again')));
    assert.equal((await c.next(1)).route.reason, 'paired');
    await deliver({ _msgid: 'r1', topic: 'pairing/revoke', payload: 'telegram:42' });
    const rv = await c.next(2);
    assert.equal(rv.reason, 'pairing_revoked');
    assert.deepEqual(rv.payload, ['telegram:42']);
    await helper.unload();

    await helper.load(nodeWithTexts, flow());
    c = collector();
    await deliver(msgOf(telegramDm('42')));
    assert.equal((await c.next(2)).reason, 'pairing_required');
  });

  it('pairing/list answers on output 2 with an array of pending and approved peers', async () => {
    await helper.load(nodeWithTexts, flow({ owners: '' }));
    const c = collector();
    await deliver(msgOf(telegramDm('42')));
    const { pairing } = await c.next(2);
    await deliver({ _msgid: 'a', topic: 'pairing/approve', payload: pairing.code });
    await c.next(2);
    await deliver(msgOf(discordDm('555666')));
    const second = await c.next(2);
    await deliver({ _msgid: 'l', topic: 'pairing/list' });
    const list = await c.next(2);
    assert.equal(list.reason, 'pairing_list');
    assert.deepEqual(
      list.payload.map((e: any) => [e.status, `${e.channel}:${e.senderId}`, e.code]),
      [['pending', 'discord:555666', second.pairing.code], ['approved', 'telegram:42', undefined]],
    );
  });

  it('every rejection reason leaves output 2 when output 2 is set to "all"; silent ones keep the payload', async () => {
    await helper.load(nodeWithTexts, flow({ output2: 'all', groupPolicy: 'allowlist', groupAllow: 'discord:1100000000000000001' }));
    const c = collector();
    const cases: [any, string][] = [
      [telegramGroup('5', { mentioned: true }), 'group_not_allowed'],
      [discordGuild('5'), 'not_mentioned'],
      [telegramDm('42'), 'pairing_required'],
      [telegramDm('42'), 'pairing_pending'],
    ];
    for (const [chat, want] of cases) {
      const m = msgOf(chat);
      await deliver(m);
      const got = await c.next(2);
      assert.equal(got.reason, want);
      if (want === 'not_mentioned' || want === 'group_not_allowed') assert.equal(got.payload, chat.text);
    }
    await deliver(msgOf(discordGuild('5', { mentioned: true })));
    assert.equal((await c.next(1)).route.reason, 'group');
  });

  it('dm_disabled, not_allowlisted and group_disabled', async () => {
    await helper.load(nodeWithTexts, flow({ output2: 'all', dmPolicy: 'disabled', groupPolicy: 'disabled' }));
    let c = collector();
    await deliver(msgOf(telegramDm('42')));
    assert.equal((await c.next(2)).reason, 'dm_disabled');
    await deliver(msgOf(telegramGroup('42', { mentioned: true })));
    assert.equal((await c.next(2)).reason, 'group_disabled');
    await helper.unload();
    await helper.load(nodeWithTexts, flow({ output2: 'all', dmPolicy: 'allowlist', allowFrom: 'telegram:7' }));
    c = collector();
    await deliver(msgOf(telegramDm('8')));
    assert.equal((await c.next(2)).reason, 'not_allowlisted');
    await deliver(msgOf(telegramDm('7')));
    assert.equal((await c.next(1)).route.reason, 'allowlisted');
  });

  it('with the default output 2 ("replies"), silent rejections are not sent (no echo into the chat)', async () => {
    await helper.load(nodeWithTexts, flow({ groupPolicy: 'open' }));
    const c = collector();
    assert.equal(await deliver(msgOf(telegramGroup('5'))), undefined);
    assert.equal(await deliver(msgOf(discordGuild('5'))), undefined);
    await deliver(msgOf(telegramDm('42')));
    const m = await c.next(2);
    assert.equal(m.reason, 'pairing_required');
    assert.equal(c.got[2].length, 0);
    assert.equal(c.got[1].length, 0);
  });

  it('flood control: over the limit one polite reply per window, the rest dropped quietly', async () => {
    await helper.load(nodeWithTexts, flow({ dmPolicy: 'open', rateLimit: 2, rateWindow: 60 }));
    const c = collector();
    for (let i = 0; i < 6; i++) await deliver(msgOf(telegramDm('9', `msg ${i}`)));
    assert.deepEqual([(await c.next(1)).payload, (await c.next(1)).payload], ['msg 0', 'msg 1']);
    const limited = await c.next(2);
    assert.equal(limited.reason, 'rate_limited');
    assert.match(limited.payload, /^You are sending messages faster than I can answer\. Please wait \d+ seconds/);
    assert.equal(c.got[2].length, 0);
    assert.equal(c.got[1].length, 0);
  });

  it('bad input: no msg.chat -> done(err) naming the problem; unknown control topics and codes too', async () => {
    await helper.load(nodeWithTexts, flow());
    const c = collector();
    const e1 = await deliver({ _msgid: 'x1', payload: 'hello' });
    assert.match(String(e1?.message), /msg\.chat is missing: this node needs the chat envelope/);
    const e2 = await deliver({ _msgid: 'x2', payload: 'x', chat: { channel: 'telegram' } });
    assert.match(String(e2?.message), /missing msg\.chat\.account, msg\.chat\.chatId, msg\.chat\.chatType, msg\.chat\.senderId/);
    const e3 = await deliver({ _msgid: 'x3', topic: 'pairing/approve', payload: 'ZZZZZZZZ' });
    assert.equal(e3?.message, 'pairing code ZZZZZZZZ is unknown: check it with pairing/list');
    const e4 = await deliver({ _msgid: 'x4', topic: 'pairing/approve' });
    assert.equal(e4?.message, 'pairing/approve needs the pairing code in msg.payload');
    const e5 = await deliver({ _msgid: 'x5', topic: 'pairing/nope' });
    assert.match(String(e5?.message), /msg\.topic "pairing\/nope" is not a pairing command: use one of pairing\/approve, pairing\/revoke, pairing\/list/);
    const e6 = await deliver({ _msgid: 'x6', topic: 'pairing/revoke', payload: 'telegram:nobody' });
    assert.match(String(e6?.message), /nothing to revoke for "telegram:nobody"/);
    assert.equal(c.got[1].length + c.got[2].length, 0);
  });

  it('a bad list in the config: error at start, status red, every message done(err)', async () => {
    await helper.load(nodeWithTexts, flow({ owners: '12345' }));
    const n = helper.getNode(FILTER_ID);
    const err = await deliver(msgOf(telegramDm('1')));
    assert.match(String(err?.message), /route filter configuration: owners: "12345" must be written as channel:id/);
    assert.ok(n.status.getCalls().some((call: any) => call.firstArg.fill === 'red'));
  });

  it('uses the kvStore of a clawflow-sessions config node when one is selected', async () => {
    const shared = new MemoryKeyValueStore();
    const namespaces: string[] = [];
    function fakeSessions(RED: any) {
      RED.nodes.registerType('clawflow-sessions', function (this: any, cfg: any) {
        RED.nodes.createNode(this, cfg);
        this.kvStore = (ns: string) => {
          namespaces.push(ns);
          return shared;
        };
      });
    }
    await helper.load([fakeSessions, nodeWithTexts], [...flow({ store: 'sess' }), { id: 'sess', type: 'clawflow-sessions' }]);
    const c = collector();
    await deliver(msgOf(telegramDm('42')));
    const { pairing } = await c.next(2);
    assert.deepEqual(namespaces, [`pairing-${FILTER_ID}`]);
    assert.deepEqual(await shared.keys('pending:'), ['pending:telegram:42']);
    assert.equal((await shared.get<any>('pending:telegram:42')).code, pairing.code);
    assert.ok(!existsSync(path.join(userDir, 'clawflow', 'pairing')), 'no file store when a store node is selected');
  });

  it('a store reference that is not a sessions node is a configuration error', async () => {
    await helper.load(nodeWithTexts, flow({ store: 'missing' }));
    const err = await deliver(msgOf(telegramDm('1')));
    assert.match(String(err?.message), /store config node is missing or is not a clawflow sessions node/);
  });

  it('close clears the expiry timer it set for the status', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await helper.load(nodeWithTexts, flow({ codeTtl: 30 }));
    const c = collector();
    const before = timers();
    await deliver(msgOf(telegramDm('42')));
    await c.next(2);
    assert.equal(timers(), before + 1, 'one status timer for the next code expiry');
    await helper.unload();
    assert.equal(timers(), before);
  });

  it('close waits for a decision that is still writing to the store', async () => {
    const inner = new MemoryKeyValueStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let setCalled!: () => void;
    const writing = new Promise<void>((r) => (setCalled = r));
    const slow = {
      get: inner.get.bind(inner),
      keys: inner.keys.bind(inner),
      delete: inner.delete.bind(inner),
      async set(k: string, v: unknown) {
        setCalled();
        await gate;
        return inner.set(k, v);
      },
    };
    function slowSessions(RED: any) {
      RED.nodes.registerType('clawflow-sessions', function (this: any, cfg: any) {
        RED.nodes.createNode(this, cfg);
        this.kvStore = () => slow;
      });
    }
    await helper.load([slowSessions, nodeWithTexts], [...flow({ store: 'sess' }), { id: 'sess', type: 'clawflow-sessions' }]);
    const decided = deliver(msgOf(telegramDm('42')));
    await writing;
    let closed = false;
    const closing = helper.unload().then(() => {
      closed = true;
    });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, 'close must wait for the in-flight store write');
    release();
    await closing;
    assert.equal(await decided, undefined);
    assert.ok(await inner.get('pending:telegram:42'), 'the write completed');
  });

  describe('groups: context, pattern mentions, bot loops, unseen rejections', () => {
    const groupFlow = (config: Record<string, unknown> = {}) => flow({ groupPolicy: 'open', rateLimit: 0, ...config });
    /** Resolves once the policy status is shown (it may have been shown already). */
    const policyShown = (n: any) =>
      n.status.getCalls().some((call: any) => call.firstArg.text === 'DMs open to everyone')
        ? Promise.resolve()
        : waitForStatus(n, (s) => s.text === 'DMs open to everyone');
    const bot = (n: number) => {
      const env = telegramGroup('8000000002', { mentioned: true, text: `bot says ${n}` });
      env.senderIsBot = true;
      env.senderName = 'echo bot';
      return env;
    };

    it('telegram and discord: unmentioned chatter arrives as msg.groupContext with the next mention, per chat', async () => {
      await helper.load(nodeWithTexts, groupFlow());
      const c = collector();
      await deliver(msgOf(telegramGroup('11', { text: 'lunch at noon?' })));
      await deliver(msgOf(discordGuild('21', { text: 'deploy is green' })));
      await deliver(msgOf(telegramGroup('12', { text: 'noon works' })));
      const tg = { ...msgOf(telegramGroup('11', { mentioned: true, text: '@bot book a table' })), groupContext: [{ text: 'stale upstream' }] };
      await deliver(tg);
      const out = await c.next(1);
      assert.equal(out._msgid, tg._msgid);
      assert.deepEqual(out.route, { accepted: true, reason: 'group', mention: 'platform' });
      assert.deepEqual(
        out.groupContext.map((e: any) => [e.senderId, e.senderName, e.text, typeof e.ts]),
        [['11', 'tg user 11', 'lunch at noon?', 'number'], ['12', 'tg user 12', 'noon works', 'number']],
      );
      await deliver(msgOf(discordGuild('22', { replyToBot: true, text: 'is it?' })));
      const dc = await c.next(1);
      assert.equal(dc.route.mention, 'reply');
      assert.deepEqual(dc.groupContext.map((e: any) => e.text), ['deploy is green']);
      // Used once; an upstream value never leaks through.
      await deliver({ ...msgOf(telegramGroup('11', { mentioned: true })), groupContext: [{ text: 'stale' }] });
      assert.equal((await c.next(1)).groupContext, undefined);
      assert.equal(c.got[2].length, 0, 'chatter is not echoed on output 2');
    });

    it('group context 0 turns it off', async () => {
      await helper.load(nodeWithTexts, groupFlow({ groupContext: 0 }));
      const c = collector();
      await deliver(msgOf(telegramGroup('11', { text: 'chatter' })));
      await deliver(msgOf(telegramGroup('11', { mentioned: true })));
      assert.equal((await c.next(1)).groupContext, undefined);
    });

    it('pattern mentions count as a mention (case-insensitive)', async () => {
      await helper.load(nodeWithTexts, groupFlow({ mentionPatterns: '\\bclawd?\\b\n^!ask\\b' }));
      const c = collector();
      await deliver(msgOf(discordGuild('21', { text: 'Clawd, are you there?' })));
      const m = await c.next(1);
      assert.deepEqual(m.route, { accepted: true, reason: 'group', mention: 'pattern' });
      await deliver(msgOf(telegramGroup('11', { text: 'clawing' })));
      await deliver(msgOf(telegramGroup('11', { text: '!ASK weather' })));
      const m2 = await c.next(1);
      assert.equal(m2.payload, '!ASK weather');
      assert.deepEqual(m2.groupContext.map((e: any) => e.text), ['clawing']);
    });

    it('an invalid pattern: a clear error on deploy, red status, every message done(err), no crash', async () => {
      await helper.load(nodeWithTexts, groupFlow({ mentionPatterns: 'claw\n(unclosed' }));
      const n = helper.getNode(FILTER_ID);
      assert.ok(n.error.getCalls().some((call: any) => /mention patterns: "\(unclosed" is not a valid regular expression/.test(String(call.firstArg))));
      assert.ok(n.status.getCalls().some((call: any) => call.firstArg.fill === 'red'));
      const err = await deliver(msgOf(telegramGroup('1', { text: 'claw?' })));
      assert.match(String(err?.message), /route filter configuration: mention patterns: "\(unclosed" is not a valid regular expression/);
    });

    it('a two-bot loop is cut at the limit: bot_loop on output 2 ("all"), one warning naming the pair, status shows it', async () => {
      await helper.load(nodeWithTexts, groupFlow({ botLoopLimit: 3, output2: 'all' }));
      const n = helper.getNode(FILTER_ID);
      const c = collector();
      const warns: string[] = [];
      n.on('call:warn', (call: any) => warns.push(String(call.firstArg)));
      const statusSeen = waitForStatus(n, (s) => /^bot loop cut: echo bot \(8000000002\) in telegram -1001234567890/.test(s.text));
      for (let i = 0; i < 5; i++) assert.equal(await deliver(msgOf(bot(i))), undefined);
      assert.deepEqual([(await c.next(1)).payload, (await c.next(1)).payload, (await c.next(1)).payload], ['bot says 0', 'bot says 1', 'bot says 2']);
      const cut = await c.next(2);
      assert.equal(cut.reason, 'bot_loop');
      assert.deepEqual(cut.route, { accepted: false, reason: 'bot_loop' });
      assert.equal(cut.payload, 'bot says 3', 'no reply text: a reply would feed the loop');
      assert.equal((await c.next(2)).reason, 'bot_loop');
      const st = await statusSeen;
      assert.equal(st.fill, 'yellow');
      // The warning is sent on the next tick by the helper's spy; give it that tick.
      await new Promise((r) => setImmediate(r));
      assert.equal(warns.length, 1, JSON.stringify(warns));
      assert.match(warns[0], /bot loop cut: bot echo bot \(8000000002\) and this bot \(7000000001\) exchanged more than 3 messages in a minute in telegram chat -1001234567890/);
      // A human in the same group still gets through.
      await deliver(msgOf(telegramGroup('5', { mentioned: true })));
      assert.equal((await c.next(1)).route.reason, 'group');
    });

    it('default output 2: silent rejections (chatter, bot loop) are counted in the status', async () => {
      await helper.load(nodeWithTexts, groupFlow({ botLoopLimit: 1, dmPolicy: 'open' }));
      const n = helper.getNode(FILTER_ID);
      const c = collector();
      // Start once the policy status is shown, so the coalescing of status updates is exercised too.
      await policyShown(n);
      await deliver(msgOf(telegramDm('1')));
      await c.next(1);
      const counted = waitForStatus(n, (s) => / · 3 ignored$/.test(s.text));
      await deliver(msgOf(telegramGroup('11')));
      await deliver(msgOf(bot(0)));
      await deliver(msgOf(bot(1)));
      await deliver(msgOf(discordGuild('21')));
      const st = await counted;
      assert.match(st.text, /^bot loop cut: .* · 3 ignored$/);
      assert.equal(c.got[2].length, 0);
      assert.equal((await c.next(1)).payload, 'bot says 0');
    });

    it('close clears the status and bot-loop timers', async () => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      await helper.load(nodeWithTexts, groupFlow({ botLoopLimit: 1, dmPolicy: 'open' }));
      const n = helper.getNode(FILTER_ID);
      const c = collector();
      await policyShown(n);
      const before = timers();
      await deliver(msgOf(bot(0)));
      await c.next(1);
      await deliver(msgOf(bot(1)));
      await deliver(msgOf(telegramGroup('11')));
      assert.ok(timers() >= before + 2, 'a bot-loop timer and a coalesced status timer');
      await helper.unload();
      assert.equal(timers(), before);
    });
  });

  it('en-US and zh-CN have the same message keys, and zh-CN is really translated', () => {
    const keys = (o: any, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
    assert.deepEqual(keys(zhCN).sort(), keys(enUS).sort());
    assert.notEqual(zhCN['clawflow-route-filter'].replies.pairingRequired, enUS['clawflow-route-filter'].replies.pairingRequired);
    assert.ok(zhCN['clawflow-route-filter'].replies.pairingRequired.includes('__code__'));
  });
});
