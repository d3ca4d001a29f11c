/**
 * The Telegram nodes when connections drop (socket hang up, TCP reset), against the fake Bot
 * API with real grammY: the bot token reaches no status, log line, error or msg; a reply whose
 * connection dropped is sent again and arrives once; stale temp files of the offset store go.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { helper, waitForStatus } from '../support/node-red';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api';
import { botConfig, telegramTestSettings } from '../fakes/telegram-flow';

const NODES = [require('../../nodes/telegram-bot'), require('../../nodes/telegram-in'), require('../../nodes/telegram-out')];

describe('telegram nodes: dropped connections', function () {
  let tg: FakeTelegram;
  let settings: ReturnType<typeof telegramTestSettings>;

  beforeEach(async () => {
    tg = await startFakeTelegram();
    settings = telegramTestSettings();
    helper.settings(settings);
  });
  afterEach(async () => {
    await helper.unload();
    await tg.close();
    helper.settings({});
  });

  /** in -> `got`; out -> `after`. Every status, error, warning and log of all three nodes is kept. */
  async function load() {
    const cfg = botConfig(tg);
    const flow = [
      cfg.node,
      { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [['got']] },
      { id: 'got', type: 'helper' },
      { id: 'out', type: 'clawflow-telegram-out', bot: 'bot', wires: [['after']] },
      { id: 'after', type: 'helper' },
    ];
    await helper.load(NODES, flow, cfg.credentials);
    const seen: unknown[] = [];
    for (const id of ['bot', 'in', 'out']) {
      const n = helper.getNode(id);
      for (const ev of ['call:error', 'call:warn', 'call:status', 'call:log']) n.on(ev, (call: any) => seen.push(call.args));
    }
    // What the status texts are made of (their reason is the failure's description).
    helper.getNode('bot').client.onStatus((s: unknown) => seen.push(s));
    const got: any[] = [];
    const after: any[] = [];
    helper.getNode('got').on('input', (m: any) => got.push(m));
    helper.getNode('after').on('input', (m: any) => after.push(m));
    return { inN: helper.getNode('in'), out: helper.getNode('out'), seen, got, after };
  }

  /** Everything a user or a log could see, as one string. */
  const visible = (seen: unknown[], extra: unknown = null) =>
    JSON.stringify({ seen, extra, logs: helper.log().args }, (_k, v) => (v instanceof Error ? { message: v.message, stack: v.stack } : v));

  const polling = (s: any) => /status\.polling/.test(s.text);
  const secret = () => tg.token.split(':')[1];

  it('getUpdates and sendMessage connections dropped: the token is in no status, error, log or msg', async () => {
    const { inN, out, seen, got } = await load();
    await waitForStatus(inN, polling);
    tg.fail('getUpdates', { drop: true });
    tg.fail('getUpdates', { reset: true });
    tg.userSays('hello'); // answers the held poll; the next ones drop
    await tg.waitFor(() => tg.calls.filter((c) => c.method === 'getUpdates' && c.answered === -1).length === 2, 'both polls dropped');
    await waitForStatus(inN, polling);
    await tg.waitFor(() => got.length === 1, 'the message');
    // Every try of the reply drops: the node gives up with done(err).
    tg.fail('sendMessage', { drop: true }, 2);
    tg.fail('sendMessage', { reset: true }, 2);
    const errored = new Promise<any>((resolve) => out.on('call:error', (call: any) => resolve(call.args)));
    out.receive({ payload: 'the answer', chat: got[0].chat });
    const [err, m] = await errored;
    const all = visible(seen, { err, m, got });
    assert.ok(!all.includes(tg.token), all.slice(0, 3000));
    assert.ok(!all.includes(secret()), 'not even the secret half');
    assert.ok(/socket hang up|ECONNRESET/.test(all), 'the cause is still told');
    assert.match(String(err?.message ?? err), /sendMessage failed after 4 attempts/);
    assert.strictEqual(tg.sent(tg.dm.id).length, 0);
  });

  it('a reply whose first two connections reset is sent again and arrives once', async () => {
    const { inN, out, got, after } = await load();
    await waitForStatus(inN, polling);
    tg.userSays('question');
    await tg.waitFor(() => got.length === 1, 'the message');
    tg.fail('sendMessage', { reset: true });
    tg.fail('sendMessage', { drop: true });
    out.receive({ payload: 'the one answer', chat: got[0].chat });
    await tg.waitFor(() => after.length === 1, 'the reply passed on');
    const sent = tg.sent(tg.dm.id);
    assert.deepStrictEqual(sent.map((s) => s.text), ['the one answer']);
    assert.strictEqual(tg.calls.filter((c) => c.method === 'sendMessage').length, 3);
  });

  it('two bots keep both their offsets in offsets.json (neither save overwrites the other)', async () => {
    const tg2 = await startFakeTelegram({ token: '987654321:AASecondFakeTokenForTests_abcdefghij' });
    try {
      const a = botConfig(tg);
      const b = botConfig(tg2, { id: 'bot2', name: 'second bot' });
      const flow = [
        a.node,
        b.node,
        { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [['got']] },
        { id: 'in2', type: 'clawflow-telegram-in', bot: 'bot2', wires: [['got']] },
        { id: 'got', type: 'helper' },
      ];
      await helper.load(NODES, flow, { bot: a.credentials.bot, bot2: { token: tg2.token } });
      const got: any[] = [];
      helper.getNode('got').on('input', (m: any) => got.push(m));
      await waitForStatus(helper.getNode('in'), polling);
      await waitForStatus(helper.getNode('in2'), polling);
      // Turn about, so each bot saves after the other one did.
      const u1 = tg.userSays('one');
      await tg.waitFor(() => got.length === 1, 'the first bot got its message');
      const u2 = tg2.userSays('two');
      await tg2.waitFor(() => got.length === 2, 'the second bot got its message');
      const u3 = tg.userSays('three');
      await tg.waitFor(() => got.length === 3, 'the first bot again');
      const file = path.join(settings.userDir, 'clawflow', 'telegram', 'offsets.json');
      const want = { [`offset:${tg.bot.id}`]: u3.update_id + 1, [`offset:${tg2.bot.id}`]: u2.update_id + 1 };
      const deadline = Date.now() + 5000;
      let saved: Record<string, number> = {};
      while (Date.now() < deadline) {
        saved = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
        if (JSON.stringify(saved) === JSON.stringify({ ...saved, ...want })) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepStrictEqual({ ...saved, ...want }, saved, `offsets.json holds both bots: ${JSON.stringify(saved)}`);
      assert.ok(u1.update_id < u3.update_id);
    } finally {
      await helper.unload();
      await tg2.close();
    }
  });

  it('removes temp files that a killed process left next to offsets.json, keeps a write in flight', async () => {
    const dir = path.join(settings.userDir, 'clawflow', 'telegram');
    fs.mkdirSync(dir, { recursive: true });
    const dead = path.join(dir, 'offsets.json.999999.0a1b2c3d.tmp'); // no such process
    const old = path.join(dir, `offsets.json.${process.pid}.deadbeef.tmp`); // pid reused, file from before this process
    const live = path.join(dir, `offsets.json.${process.pid}.cafe0123.tmp`); // a save of this process, in flight
    const other = path.join(dir, 'notes.txt.999999.0a1b2c3d.tmp'); // not the offset store's
    for (const f of [dead, old, live, other]) fs.writeFileSync(f, '{}');
    const past = new Date(Date.now() - process.uptime() * 1000 - 5000);
    fs.utimesSync(old, past, past);
    const { inN } = await load();
    await waitForStatus(inN, polling);
    assert.deepStrictEqual([dead, old, live, other].map((f) => fs.existsSync(f)), [false, false, true, true]);
  });

  it('a broken offsets.json is moved aside with one warning, and offsets are saved again', async () => {
    const dir = path.join(settings.userDir, 'clawflow', 'telegram');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'offsets.json');
    fs.writeFileSync(file, '{"offset:1": 10');
    const { inN, seen, got } = await load();
    await waitForStatus(inN, polling);
    const u = tg.userSays('hello');
    await tg.waitFor(() => got.length === 1, 'the message');
    await tg.waitFor(() => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8'))[`offset:${tg.bot.id}`] === u.update_id + 1, 'the offset saved');
    const aside = fs.readdirSync(dir).filter((f) => f.startsWith('offsets.json.corrupt-'));
    assert.strictEqual(aside.length, 1);
    assert.strictEqual(fs.readFileSync(path.join(dir, aside[0]), 'utf8'), '{"offset:1": 10', 'kept for a look');
    const text = visible(seen);
    assert.ok(text.includes('errors.offsetsCorrupt'), text);
    assert.ok(!/could not (read|save) the/.test(text), text);
  });
});
