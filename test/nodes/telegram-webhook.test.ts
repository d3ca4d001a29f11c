/**
 * Webhook mode: the config node registers a route on Node-RED's HTTP server, calls setWebhook
 * with a secret, checks the secret on every request, and deletes the webhook on close. With a
 * session node deployed it answers Telegram only once the session node took the update (200)
 * or refused it while closing (503: the fake, like Telegram, delivers it again). Decision 0170.
 */
import assert from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { helper, waitForStatus } from '../support/node-red';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api';
import { botConfig, telegramTestSettings } from '../fakes/telegram-flow';
import { acceptHandoffs, HANDOFF_PROP, pendingHandoffs } from '../../src/handoff';

const NODES = ['telegram-bot', 'telegram-in', 'sessions', 'session'].map((b) => require(`../../nodes/${b}`));
/** Far beyond any wait below: a 200 within the test proves a hand-off, not the bound. */
const BOUND_MS = 60_000;

describe('telegram nodes: webhook mode', function () {
  let tg: FakeTelegram;
  let server: http.Server;
  let base: string;
  let httpNode: any;
  // Captures RED.httpNode: the helper gives each load its own express app for it.
  const capture = (RED: any) => {
    httpNode = RED.httpNode;
  };

  let settings: ReturnType<typeof telegramTestSettings>;

  beforeEach(async () => {
    tg = await startFakeTelegram();
    settings = telegramTestSettings();
    settings.clawflowTelegram = { ...settings.clawflowTelegram, handoffTimeoutMs: BOUND_MS } as typeof settings.clawflowTelegram;
    helper.settings(settings);
    server = http.createServer((req, res) => httpNode(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await helper.unload();
    await tg.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    helper.settings({});
    assert.strictEqual(pendingHandoffs(), 0, 'a hand-off was left waiting');
  });

  async function load(secret?: string, opts: { session?: boolean } = {}) {
    const cfg = botConfig(tg, { mode: 'webhook', webhookBaseUrl: base, webhookPath: '/telegram/hook' });
    if (secret) cfg.credentials.bot.webhookSecret = secret;
    const flow: any[] = [cfg.node, { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [[opts.session ? 's1' : 'got']] }, { id: 'got', type: 'helper' }];
    if (opts.session) {
      flow.push(
        { id: 'sessions', type: 'clawflow-sessions', store: 'memory', concurrency: 10, maxWaiting: 100, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', historyMessages: 40, historyTokens: 8000 },
        { id: 's1', type: 'clawflow-session', sessions: 'sessions', wires: [['got'], ['busy']] },
        { id: 'busy', type: 'helper' },
      );
    }
    await helper.load([capture, ...NODES], flow, cfg.credentials);
    const got: any[] = [];
    helper.getNode('got').on('input', (m: any) => got.push(m));
    return { inN: helper.getNode('in'), got };
  }

  it('sets the webhook with a secret and receives updates Telegram POSTs to it', async () => {
    const { inN, got } = await load('s3cret_value');
    await waitForStatus(inN, (s) => /status\.webhook/.test(s.text));
    assert.deepStrictEqual(tg.webhook, { url: `${base}/telegram/hook`, secret: 's3cret_value' });
    tg.userSays('via webhook');
    await tg.waitFor(() => got.length === 1, 'the webhook message');
    assert.strictEqual(got[0].payload, 'via webhook');
    assert.strictEqual(got[0].chat.chatType, 'direct');
    assert.strictEqual(tg.deliveries[0].status, 200);
  });

  it('answers 401 without the secret header and 403 with a wrong one, emitting nothing', async () => {
    const { inN, got } = await load();
    await waitForStatus(inN, (s) => /status\.webhook/.test(s.text));
    assert.ok(tg.webhook?.secret && tg.webhook.secret.length >= 16, 'a derived secret when none is set');
    const update = JSON.stringify({ update_id: 1, message: { message_id: 1, date: 1, chat: { id: 5, type: 'private' }, from: { id: 5, is_bot: false, first_name: 'X' }, text: 'forged' } });
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/telegram/hook`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: update }).then((r) => r.status);
    assert.strictEqual(await post({}), 401);
    assert.strictEqual(await post({ 'x-telegram-bot-api-secret-token': 'wrong' }), 403);
    assert.strictEqual(await post({ 'x-telegram-bot-api-secret-token': tg.webhook!.secret! }), 200);
    await tg.waitFor(() => got.length === 1, 'the genuine update');
    // A re-delivery of the same update is answered 200 and not emitted twice.
    assert.strictEqual(await post({ 'x-telegram-bot-api-secret-token': tg.webhook!.secret! }), 200);
    assert.strictEqual(got.length, 1);
  });

  it('answers 200 once the session node journaled the update', async () => {
    const { inN, got } = await load(undefined, { session: true });
    await waitForStatus(inN, (s) => /status\.webhook/.test(s.text));
    const u = tg.userSays('journal me');
    await tg.waitFor(() => got.length === 1 && tg.deliveries.length === 1, 'the turn and the answer to Telegram');
    assert.strictEqual(got[0].payload, 'journal me');
    assert.strictEqual(HANDOFF_PROP in got[0], false, 'the hand-off id left the session node');
    assert.deepStrictEqual(tg.deliveries, [{ updateId: u.update_id, status: 200 }]);
  });

  it('answers 503 while the session node is closing; Telegram re-delivers and the next deploy takes the update', async () => {
    // Another session node keeps telegram in tagging after s1's close released its own.
    const release = acceptHandoffs();
    try {
      const { inN } = await load(undefined, { session: true });
      await waitForStatus(inN, (s) => /status\.webhook/.test(s.text));
      const s1 = helper.getNode('s1');
      for (const cb of (s1 as any)._closeCallbacks) cb.call(s1, false, () => undefined); // the deploy started closing it
      const u = tg.userSays('sent mid-deploy');
      await tg.waitFor(() => tg.deliveries.filter((d) => d.status === 503).length >= 2, 'refused and delivered again');
      assert.ok(tg.deliveries.every((d) => d.updateId === u.update_id && d.status === 503), JSON.stringify(tg.deliveries));
      assert.strictEqual(tg.pending(), 1, 'Telegram still holds the update');
      await helper.unload();
      helper.settings(settings);
      const again = await load(undefined, { session: true });
      await tg.waitFor(() => again.got.length === 1, 'the update taken by the next deploy');
      assert.strictEqual(again.got[0].payload, 'sent mid-deploy');
      await tg.waitFor(() => tg.deliveries.some((d) => d.status === 200), 'answered 200');
      assert.strictEqual(tg.deliveries[tg.deliveries.length - 1].status, 200);
      assert.strictEqual(tg.pending(), 0);
    } finally {
      release();
    }
  });

  it('deletes the webhook and removes the route on close', async () => {
    const { inN } = await load();
    await waitForStatus(inN, (s) => /status\.webhook/.test(s.text));
    await helper.unload();
    assert.strictEqual(tg.webhook, undefined);
    assert.ok(tg.calls.some((c) => c.method === 'deleteWebhook'));
    const status = await fetch(`${base}/telegram/hook`, { method: 'POST', body: '{}' }).then((r) => r.status);
    assert.strictEqual(status, 404);
  });
});
