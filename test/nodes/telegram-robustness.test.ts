/**
 * The Telegram nodes under trouble, each case against the fake Bot API with real grammY:
 * a competing poller (409), the Bot API going away and coming back, a redeploy, a restart
 * (offset kept), a bad token (401), malformed updates, a duplicate token.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { helper, waitForStatus } from '../support/node-red';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api';
import { botConfig, telegramTestSettings } from '../fakes/telegram-flow';
import { claimedTokens } from '../../src/channels/telegram/token-registry';

const NODES = [require('../../nodes/telegram-bot'), require('../../nodes/telegram-in'), require('../../nodes/telegram-out')];

describe('telegram nodes: robustness', function () {
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

  function flow(extra: Record<string, unknown> = {}) {
    const cfg = botConfig(tg, extra);
    return {
      nodes: [cfg.node, { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [['got']] }, { id: 'got', type: 'helper' }],
      credentials: cfg.credentials,
    };
  }

  async function load(extra: Record<string, unknown> = {}, creds?: Record<string, Record<string, string>>) {
    const f = flow(extra);
    await helper.load(NODES, f.nodes, creds ?? f.credentials);
    const inN = helper.getNode('in');
    const errors: string[] = [];
    const orig = inN.error.bind(inN);
    inN.error = (e: any, m?: any) => {
      errors.push(String(e?.message ?? e));
      orig(e, m);
    };
    const got: any[] = [];
    helper.getNode('got').on('input', (m: any) => got.push(m));
    return { inN, errors, got };
  }

  const polling = (s: any) => /status\.polling/.test(s.text);

  it('409 from another poller: clear status and one error, backs off, resumes when the other stops', async () => {
    const { inN, errors, got } = await load();
    await waitForStatus(inN, polling);
    let intruding = true;
    const intruder = (async () => {
      while (intruding) {
        await fetch(`${tg.apiRoot}/bot${tg.token}/getUpdates?timeout=1`).then((r) => r.arrayBuffer()).catch(() => undefined);
      }
    })();
    const conflict = await waitForStatus(inN, (s) => /status\.conflict/.test(s.text));
    assert.strictEqual(conflict.fill, 'red');
    await tg.waitFor(() => tg.calls.filter((c) => c.method === 'getUpdates' && c.answered === 409).length >= 4, 'several 409s');
    intruding = false;
    await intruder;
    await waitForStatus(inN, polling, 5000);
    const conflictErrors = errors.filter((e) => /errors\.conflict/.test(e));
    assert.ok(conflictErrors.length >= 1, 'the conflict was reported');
    assert.ok(conflictErrors.length <= 3, `reported once per episode, not per retry: ${conflictErrors.length}`);
    tg.userSays('still here');
    await tg.waitFor(() => got.length === 1, 'the message after the conflict');
    assert.strictEqual(got[0].payload, 'still here');
  });

  it('the Bot API going away and coming back: reconnecting, then polling again by itself', async () => {
    const { inN, got } = await load();
    await waitForStatus(inN, polling);
    const reconnecting = waitForStatus(inN, (s) => /status\.reconnecting/.test(s.text));
    await tg.goAway();
    await reconnecting;
    const back = waitForStatus(inN, polling, 5000);
    await tg.comeBack();
    await back;
    tg.userSays('after the outage');
    await tg.waitFor(() => got.length === 1, 'the message after the outage');
    assert.strictEqual(got[0].payload, 'after the outage');
  });

  it('5xx and dropped connections back off and recover without losing updates', async () => {
    const { inN, got } = await load();
    await waitForStatus(inN, polling);
    tg.fail('getUpdates', { code: 500 }, 2);
    tg.fail('getUpdates', { drop: true });
    tg.fail('getUpdates', { code: 502, rawBody: '<html>Bad Gateway</html>' });
    tg.userSays('one');
    tg.userSays('two');
    await tg.waitFor(() => got.length === 2, 'both messages');
    assert.deepStrictEqual(got.map((m) => m.payload), ['one', 'two']);
  });

  it('a redeploy stops the old poller before the new one starts: no self-inflicted 409', async () => {
    const { inN, got } = await load();
    await waitForStatus(inN, polling);
    await tg.waitFor(() => tg.activePolls() === 1, 'a long poll in flight');
    const f = flow({ name: 'renamed bot' });
    await helper.setFlows(f.nodes, 'nodes', f.credentials);
    const newIn = helper.getNode('in');
    await waitForStatus(newIn, polling);
    // 'got' was not modified, so it is the same node instance, still feeding `got`.
    tg.userSays('after redeploy');
    await tg.waitFor(() => got.length === 1, 'the message after the redeploy');
    assert.strictEqual(got[0].payload, 'after redeploy');
    assert.strictEqual(tg.calls.filter((c) => c.method === 'getMe').length, 2, 'the config node really restarted');
    assert.deepStrictEqual(tg.calls.filter((c) => c.answered === 409), [], 'no 409 at all');
  });

  it('close aborts the in-flight long poll and releases the token', async () => {
    const { inN } = await load();
    await waitForStatus(inN, polling);
    await tg.waitFor(() => tg.activePolls() === 1, 'a long poll in flight');
    assert.strictEqual(claimedTokens(), 1);
    await helper.unload();
    await tg.waitFor(() => tg.activePolls() === 0, 'the poll aborted', 2000);
    assert.strictEqual(claimedTokens(), 0);
  });

  it('keeps the update offset across restarts: nothing handled twice, nothing skipped', async () => {
    const first = await load();
    await waitForStatus(first.inN, polling);
    const u1 = tg.userSays('first');
    const u2 = tg.userSays('second');
    await tg.waitFor(() => first.got.length === 2, 'two messages');
    await helper.unload();
    // Telegram re-sends updates a poller never confirmed: put them back, plus a new one.
    tg.injectUpdate(u1);
    tg.injectUpdate(u2);
    tg.userSays('third');
    const second = await load();
    await tg.waitFor(() => second.got.length >= 1, 'the new message');
    await tg.waitFor(() => tg.pending() === 0, 'the new poller confirmed everything');
    assert.deepStrictEqual(second.got.map((m) => m.payload), ['third']);
    const firstPoll = tg.calls.filter((c) => c.method === 'getUpdates').find((c) => c.at >= tg.calls.filter((x) => x.method === 'getMe')[1].at);
    assert.strictEqual(Number(firstPoll?.params.offset), u2.update_id + 1);
  });

  it('a bad token (401) stops with a message to check the token, and does not retry', async () => {
    const f = flow();
    const creds = { bot: { token: '999999:AAWrongTokenWrongToken' } };
    const { inN, errors } = await load({}, creds);
    const st = await waitForStatus(inN, (s) => /status\.unauthorized/.test(s.text));
    assert.strictEqual(st.fill, 'red');
    assert.ok(errors.some((e) => /errors\.unauthorized/.test(e)), errors.join('|'));
    await new Promise((r) => setTimeout(r, 300)); // time in which a spinning client would retry
    assert.strictEqual(tg.calls.filter((c) => c.method === 'getMe').length, 1);
    assert.strictEqual(tg.calls.filter((c) => c.method === 'getUpdates').length, 0);
    void f;
  });

  it('a token revoked while polling (401 on getUpdates) stops the poller', async () => {
    const { inN, errors } = await load();
    await waitForStatus(inN, polling);
    const failed = waitForStatus(inN, (s) => /status\.unauthorized/.test(s.text));
    tg.fail('getUpdates', { code: 401, description: 'Unauthorized' });
    tg.userSays('wake the poll'); // answers the pending poll so the next one hits the failure
    await failed;
    const polls = tg.calls.filter((c) => c.method === 'getUpdates').length;
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(tg.calls.filter((c) => c.method === 'getUpdates').length, polls, 'no more polling');
    assert.ok(errors.some((e) => /errors\.unauthorized/.test(e)));
  });

  it('reports a malformed update and keeps polling', async () => {
    const { inN, errors, got } = await load();
    await waitForStatus(inN, polling);
    tg.injectUpdate({ message: { message_id: 5, text: 'no chat here', date: 1 } });
    tg.injectUpdate({ message: { message_id: 6, chat: { id: 1, type: 'private' }, date: 1, text: 42 } });
    tg.userSays('fine');
    await tg.waitFor(() => got.length === 1, 'the good message');
    assert.strictEqual(got[0].payload, 'fine');
    assert.strictEqual(errors.filter((e) => /errors\.problem/.test(e)).length, 2, errors.join('|'));
    // All three are confirmed to Telegram by the next poll (after the offset is saved), malformed ones included.
    await tg.waitFor(() => tg.pending() === 0, 'every update confirmed, the malformed ones too');
  });

  it('a private message without a sender is reported and dropped, never passed on as the chat owner', async () => {
    const { inN, errors, got } = await load();
    await waitForStatus(inN, polling);
    tg.injectUpdate({ message: { message_id: 7, chat: { id: tg.user.id, type: 'private' }, date: 1, text: 'I am the owner' } });
    tg.userSays('fine');
    await tg.waitFor(() => got.length === 1, 'the good message');
    assert.deepStrictEqual(got.map((m) => [m.payload, m.chat.senderId]), [['fine', String(tg.user.id)]]);
    assert.strictEqual(errors.filter((e) => /errors\.problem/.test(e)).length, 1, errors.join('|'));
  });

  it('a 100,000-character text reaches the flow cut to 16,384 characters with msg.chat.truncated', async () => {
    const { inN, got } = await load();
    await waitForStatus(inN, polling);
    tg.userSays('q'.repeat(100_000));
    tg.userSays('short');
    await tg.waitFor(() => got.length === 2, 'both messages');
    assert.deepStrictEqual(
      got.map((m) => [m.payload.length, m.chat.text.length, m.chat.truncated, m.chat.extras.textLength]),
      [
        [16_384, 16_384, true, 100_000],
        [5, 5, undefined, undefined],
      ],
    );
  });

  it('refuses a second config node with the same token', async () => {
    const cfg = botConfig(tg);
    const nodes = [
      cfg.node,
      { ...cfg.node, id: 'bot2', name: 'copy' },
      { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [[]] },
      { id: 'in2', type: 'clawflow-telegram-in', bot: 'bot2', wires: [[]] },
    ];
    await helper.load(NODES, nodes, { bot: { token: tg.token }, bot2: { token: tg.token } });
    const bot2 = helper.getNode('bot2');
    assert.match(String(bot2.configError), /errors\.duplicateToken/);
    assert.strictEqual(helper.getNode('in2').receivesUpdates, undefined);
    assert.strictEqual(claimedTokens(), 1);
  });

  it('a draft left by a killed run is deleted once Telegram is reachable again, not only at the next start', async () => {
    helper.settings({ ...settings, clawflowTelegram: { ...settings.clawflowTelegram, draftSweepRetryMs: 50 } });
    const outFlow = () => {
      const cfg = botConfig(tg);
      return [cfg.node, { id: 'out', type: 'clawflow-telegram-out', bot: 'bot', wires: [[]] }];
    };
    // The killed run's draft: sent, journaled, never finished.
    const draft = await (await fetch(`${tg.apiRoot}/bot${tg.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: tg.dm.id, text: 'half a dr …' }),
    }).then((r) => r.json())) as { result: { message_id: number } };
    const id = String(draft.result.message_id);
    const dir = path.join(settings.userDir, 'clawflow', 'drafts');
    fs.mkdirSync(dir, { recursive: true });
    const entry = { chat: String(tg.dm.id), message: id, boot: 'the killed run', at: Date.now() };
    fs.writeFileSync(path.join(dir, 'out.json'), JSON.stringify({ [`${tg.dm.id}/${id}`]: entry }));
    // Telegram unreachable for the first sweep (every try of its delete drops).
    tg.fail('deleteMessage', { drop: true }, 4);
    await helper.load(NODES, outFlow(), botConfig(tg).credentials);
    await tg.waitFor(() => tg.deleted.some((m) => String(m.messageId) === id), 'the draft deleted by a later sweep', 5000);
    assert.ok(tg.calls.filter((c) => c.method === 'deleteMessage').length >= 5);
    await tg.waitFor(() => Object.keys(JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8'))).length === 0, 'the journal empty');
  });
});
