/**
 * Webhook mode: the config node registers a route on Node-RED's HTTP server, calls setWebhook
 * with a secret, checks the secret on every request, and deletes the webhook on close.
 */
import assert from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { helper, waitForStatus } from '../support/node-red';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api';
import { botConfig, telegramTestSettings } from '../fakes/telegram-flow';

const NODES = [require('../../nodes/telegram-bot'), require('../../nodes/telegram-in')];

describe('telegram nodes: webhook mode', function () {
  let tg: FakeTelegram;
  let server: http.Server;
  let base: string;
  let httpNode: any;
  // Captures RED.httpNode: the helper gives each load its own express app for it.
  const capture = (RED: any) => {
    httpNode = RED.httpNode;
  };

  beforeEach(async () => {
    tg = await startFakeTelegram();
    helper.settings(telegramTestSettings());
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
  });

  async function load(secret?: string) {
    const cfg = botConfig(tg, { mode: 'webhook', webhookBaseUrl: base, webhookPath: '/telegram/hook' });
    if (secret) cfg.credentials.bot.webhookSecret = secret;
    const flow = [cfg.node, { id: 'in', type: 'clawflow-telegram-in', bot: 'bot', wires: [['got']] }, { id: 'got', type: 'helper' }];
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
