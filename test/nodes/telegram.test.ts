/**
 * The three Telegram nodes in a real Node-RED runtime, with real grammY, against the loopback
 * fake Bot API: messages in with the envelope, replies out (split, formatted, streamed).
 */
import assert from 'assert';
import { helper, waitForStatus } from '../support/node-red';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api';
import { botConfig, telegramTestSettings } from '../fakes/telegram-flow';

const botNode = require('../../nodes/telegram-bot');
const inNode = require('../../nodes/telegram-in');
const outNode = require('../../nodes/telegram-out');
const NODES = [botNode, inNode, outNode];

describe('telegram nodes', function () {
  let tg: FakeTelegram;

  beforeEach(async () => {
    tg = await startFakeTelegram();
    helper.settings(telegramTestSettings());
  });
  afterEach(async () => {
    await helper.unload();
    await tg.close();
    helper.settings({});
  });

  /** in -> helper node `got`; helper `src` -> out -> helper `after`. */
  async function loadFlow(outExtra: Record<string, unknown> = {}, inExtra: Record<string, unknown> = {}) {
    const cfg = botConfig(tg);
    const flow = [
      cfg.node,
      { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [['got']], ...inExtra },
      { id: 'got', type: 'helper' },
      { id: 'out', type: 'clawflow-telegram-out', bot: 'bot', wires: [['after']], ...outExtra },
      { id: 'after', type: 'helper' },
    ];
    await helper.load(NODES, flow, cfg.credentials);
    return { inN: helper.getNode('in'), got: helper.getNode('got'), out: helper.getNode('out'), after: helper.getNode('after') };
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

  it('emits a DM as msg.payload + msg.chat envelope and shows polling', async () => {
    const { inN, got } = await loadFlow();
    await waitForStatus(inN, (s) => /polling/.test(s.text));
    const arrived = nextMsg(got);
    tg.userSays('hello there');
    const msg = await arrived;
    assert.strictEqual(msg.payload, 'hello there');
    assert.strictEqual(msg.chat.channel, 'telegram');
    assert.strictEqual(msg.chat.account, String(tg.bot.id));
    assert.strictEqual(msg.chat.chatId, String(tg.user.id));
    assert.strictEqual(msg.chat.chatType, 'direct');
    assert.strictEqual(msg.chat.mentioned, true);
    assert.strictEqual(msg.chat.senderName, 'Ann Lee');
    assert.strictEqual(typeof msg.chat.timestamp, 'number');
    assert.ok(msg.telegram.update.update_id > 0);
  });

  it('replies to msg.chat, quoting the user in groups, and passes the message ids on', async () => {
    const { got, out, after } = await loadFlow();
    const arrived = nextMsg(got);
    tg.userSays('@clawflow_test_bot what time is it?', { chat: tg.group });
    const msg = await arrived;
    assert.strictEqual(msg.chat.chatType, 'group');
    assert.strictEqual(msg.chat.mentioned, true);
    const sentOn = nextMsg(after);
    out.receive({ ...msg, payload: 'Noon.' });
    const done = await sentOn;
    const sent = tg.sent(tg.group.id);
    assert.strictEqual(sent.length, 1);
    assert.strictEqual(sent[0].text, 'Noon.');
    assert.strictEqual(String(sent[0].replyToMessageId), msg.chat.messageId);
    assert.deepStrictEqual(done.telegram.messageIds, [String(sent[0].messageId)]);
  });

  it('ignores messages from other bots unless told to', async () => {
    const { got } = await loadFlow();
    const seen: any[] = [];
    got.on('input', (m: any) => seen.push(m));
    tg.userSays('beep', { from: { id: 777, is_bot: true, first_name: 'Other', username: 'other_bot' } });
    tg.userSays('human here');
    await tg.waitFor(() => seen.length >= 1, 'the human message');
    assert.deepStrictEqual(seen.map((m) => m.payload), ['human here']);
  });

  it('splits a long reply into ordered parts under 4096 at paragraph boundaries', async () => {
    const { out, after } = await loadFlow();
    const para = (c: string) => (c.repeat(70) + ' ').repeat(25).trim(); // ~1775 chars
    const text = [para('a'), para('b'), para('c'), para('d')].join('\n\n');
    const sentOn = nextMsg(after);
    out.receive({ payload: text, chat: dmEnvelope() });
    await sentOn;
    const parts = tg.sent(tg.user.id).sort((x, y) => x.messageId - y.messageId);
    assert.strictEqual(parts.length, 2);
    for (const p of parts) assert.ok(p.text.length <= 4096);
    assert.strictEqual(parts.map((p) => p.text).join('\n\n'), text);
  });

  it('sends markdown as escaped Telegram HTML', async () => {
    const { out, after } = await loadFlow({ format: 'markdown' });
    const sentOn = nextMsg(after);
    out.receive({ payload: '**Total:** 3 < 5 & `a<b>` done_ok', chat: dmEnvelope() });
    await sentOn;
    const [m] = tg.sent(tg.user.id);
    assert.strictEqual(m.parseMode, 'HTML');
    assert.strictEqual(m.raw, '<b>Total:</b> 3 &lt; 5 &amp; <code>a&lt;b&gt;</code> done_ok');
    assert.strictEqual(m.text, 'Total: 3 < 5 & a<b> done_ok');
  });

  it('retries as plain text when Telegram rejects the HTML, and warns', async () => {
    const { out, after } = await loadFlow({ format: 'html' });
    const warnings: string[] = [];
    const origWarn = out.warn.bind(out);
    out.warn = (w: string) => {
      warnings.push(String(w));
      origWarn(w);
    };
    const sentOn = nextMsg(after);
    out.receive({ payload: '<b>bold <i>broken</b>', chat: dmEnvelope() });
    await sentOn;
    const [m] = tg.sent(tg.user.id);
    assert.strictEqual(m.parseMode, undefined);
    assert.strictEqual(m.text, 'bold broken');
    const rejected = tg.calls.filter((c) => c.method === 'sendMessage' && c.answered === 400);
    assert.strictEqual(rejected.length, 1);
    assert.ok(warnings.some((w) => /markup/.test(w)), warnings.join('|'));
  });

  it('waits out a 429 with retry_after and then sends', async () => {
    const { out, after } = await loadFlow();
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'getMe' && c.answered === 0), 'getMe');
    tg.fail('sendMessage', { code: 429, retryAfter: 1 });
    const sentOn = nextMsg(after);
    out.receive({ payload: 'after the wait', chat: dmEnvelope() });
    await sentOn;
    const sends = tg.calls.filter((c) => c.method === 'sendMessage');
    assert.deepStrictEqual(sends.map((c) => c.answered), [429, 0]);
    assert.ok(sends[1].at - sends[0].at >= 950, `retried after ${sends[1].at - sends[0].at} ms`);
    assert.strictEqual(tg.sent(tg.user.id)[0].text, 'after the wait');
  });

  it('rides out a storm of 429s (six in a row) and sends the reply once', async () => {
    const { out, after } = await loadFlow();
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'getMe' && c.answered === 0), 'getMe');
    tg.fail('sendMessage', { code: 429, retryAfter: 0 }, 6);
    const sentOn = nextMsg(after);
    out.receive({ payload: 'after the storm', chat: dmEnvelope() });
    await sentOn;
    const sends = tg.calls.filter((c) => c.method === 'sendMessage');
    assert.deepStrictEqual(sends.map((c) => c.answered), [429, 429, 429, 429, 429, 429, 0]);
    assert.deepStrictEqual(tg.sent(tg.user.id).map((m) => m.text), ['after the storm']);
  });

  it('fails with done(err) carrying the Telegram description on other errors', async () => {
    const { out } = await loadFlow();
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'getMe' && c.answered === 0), 'getMe');
    tg.fail('sendMessage', { code: 403, description: 'Forbidden: bot was blocked by the user' });
    const errored = new Promise<any>((resolve) => {
      const orig = out.error.bind(out);
      out.error = (e: any, m: any) => {
        resolve(e);
        orig(e, m);
      };
    });
    out.receive({ payload: 'hi', chat: dmEnvelope() });
    const err = await errored;
    assert.match(String(err?.message ?? err), /403.*Forbidden: bot was blocked by the user/);
  });

  it('refuses a msg without a Telegram envelope with a clear error', async () => {
    const { out } = await loadFlow();
    const errors: string[] = [];
    const orig = out.error.bind(out);
    out.error = (e: any, m: any) => {
      errors.push(String(e?.message ?? e));
      orig(e, m);
    };
    out.receive({ payload: 'x' });
    out.receive({ payload: 'x', chat: { ...dmEnvelope(), channel: 'discord' } });
    await tg.waitFor(() => errors.length === 2, 'two errors');
    assert.match(errors[0], /msg\.chat is missing/);
    assert.match(errors[1], /notTelegram|discord/);
    assert.strictEqual(tg.sent().length, 0);
  });

  it('shows a streamed reply as typing, then one draft edited in place, then the final text', async () => {
    const { out, after } = await loadFlow({ editInterval: 500 });
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'getMe' && c.answered === 0), 'getMe');
    const chat = dmEnvelope();
    const id = 'turn-1';
    out.receive({ payload: '', chat, stream: { id, seq: 0, delta: '', done: false } });
    await tg.waitFor(() => tg.actions.length > 0, 'typing');
    assert.strictEqual(tg.actions[0].action, 'typing');
    out.receive({ payload: 'The answer', chat, stream: { id, seq: 1, delta: 'The answer', done: false } });
    await tg.waitFor(() => tg.sent(tg.user.id).length === 1, 'the draft');
    out.receive({ payload: 'The answer is', chat, stream: { id, seq: 2, delta: ' is', done: false } });
    out.receive({ payload: 'The answer is forty', chat, stream: { id, seq: 3, delta: ' forty', done: false } });
    const finalOn = nextMsg(after);
    out.receive({ payload: 'The answer is forty-two.', chat, stream: { id, seq: 4, delta: '-two.', done: true } });
    const fin = await finalOn;
    const sent = tg.sent(tg.user.id);
    assert.strictEqual(sent.length, 1, 'one message, edited; no duplicate final');
    assert.strictEqual(sent[0].text, 'The answer is forty-two.');
    assert.ok(sent[0].edits >= 1 && sent[0].edits <= 3, `edits: ${sent[0].edits}`);
    assert.deepStrictEqual(fin.telegram.messageIds, [String(sent[0].messageId)]);
  });

  it('a redeploy mid-stream deletes the unfinished draft (the turn is answered afresh after it)', async () => {
    const { out } = await loadFlow({ editInterval: 0 });
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'getMe' && c.answered === 0), 'getMe');
    const chat = dmEnvelope();
    out.receive({ payload: 'Half an ans', chat, stream: { id: 'turn-r', seq: 0, delta: 'Half an ans', done: false } });
    await tg.waitFor(() => tg.sent(tg.user.id).length === 1, 'the draft');
    // A second partial is edited into the draft: by then the draft's id is known to the node.
    out.receive({ payload: 'Half an answer', chat, stream: { id: 'turn-r', seq: 1, delta: 'swer', done: false } });
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'editMessageText'), 'the draft edit');
    await helper.unload();
    assert.strictEqual(tg.sent(tg.user.id).length, 0, 'no half-written draft left in the chat');
    assert.strictEqual(tg.deleted.length, 1);
    assert.match(tg.deleted[0].text, /^Half an ans/);
  });

  function dmEnvelope() {
    return {
      channel: 'telegram',
      account: String(tg.bot.id),
      chatId: String(tg.user.id),
      chatType: 'direct',
      senderId: String(tg.user.id),
      text: 'q',
      messageId: '1',
      mentioned: true,
      attachments: [],
      timestamp: Date.now(),
    };
  }
});
