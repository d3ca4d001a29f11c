import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { helper, mountHttpNode, webchatModules } from '../fakes/webchat-flow';
import { WebchatTestClient, openSocket, requestTicket } from '../fakes/webchat-client';

const PEER = 'peer-aaaaaaaaaaaaaaaa';

/** webchat in -> function -> webchat out, plus a helper node that sees what webchat in sends. */
function flow(fn: string, extra: Record<string, unknown> = {}) {
  return [
    { id: 'cfg', type: 'clawflow-webchat', name: 'test chat', path: '/clawflow/chat', title: 'Test <b>chat</b>', historyLimit: 50, origins: '', ...extra },
    { id: 'in', type: 'clawflow-webchat-in', webchat: 'cfg', wires: [['fn', 'seen']] },
    { id: 'fn', type: 'function', func: fn, outputs: 1, wires: [['out']] },
    { id: 'out', type: 'clawflow-webchat-out', webchat: 'cfg', wires: [] },
    { id: 'seen', type: 'helper' },
  ];
}
const ECHO = 'msg.payload = "echo: " + msg.payload; return msg;';

describe('webchat nodes (node-red ' + (process.env.CLAWFLOW_NODE_RED || '4') + ')', function () {
  let userDir: string;
  let page: string;
  const clients: WebchatTestClient[] = [];

  async function connect(opts: Partial<Parameters<typeof WebchatTestClient.connect>[1]> = {}) {
    const c = await WebchatTestClient.connect(page, { peerId: PEER, ...opts });
    clients.push(c);
    return c;
  }

  beforeEach(async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-webchat-'));
    helper.settings({ userDir });
    await helper.startServer();
    mountHttpNode();
    page = helper.url() + '/clawflow/chat/';
  });

  afterEach(async function () {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    await helper.unload();
    await helper.stopServer();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('serves the page, its assets and config with a strict CSP, and redirects the bare path', async function () {
    await helper.load(webchatModules, flow(ECHO));
    const bare = await fetch(helper.url() + '/clawflow/chat', { redirect: 'manual' });
    assert.strictEqual(bare.status, 302);
    assert.strictEqual(bare.headers.get('location'), 'chat/');
    const html = await fetch(page);
    assert.strictEqual(html.status, 200);
    assert.match(html.headers.get('content-security-policy') || '', /script-src 'self'/);
    assert.match(await html.text(), /<script src="chat.js"/);
    for (const f of ['chat.js', 'markdown.js', 'chat.css', 'icon.svg']) {
      assert.strictEqual((await fetch(page + f)).status, 200, f);
    }
    assert.strictEqual((await fetch(page + '../../../package.json')).status, 404);
    const cfg = await (await fetch(page + 'config.json')).json();
    assert.deepStrictEqual(cfg, { title: 'Test <b>chat</b>', tokenRequired: false });
  });

  it('turns a page message into msg.chat + msg.payload and shows the reply', async function () {
    await helper.load(webchatModules, flow(ECHO));
    const seen = new Promise<any>((resolve) => helper.getNode('seen').on('input', resolve));
    const c = await connect();
    c.send('/new  now please', 'c1', 'Ada');
    const msg = await seen;
    assert.strictEqual(msg.payload, '/new  now please');
    assert.strictEqual(msg.chat.channel, 'webchat');
    assert.strictEqual(msg.chat.account, 'cfg');
    assert.strictEqual(msg.chat.chatId, PEER);
    assert.strictEqual(msg.chat.senderId, PEER);
    assert.strictEqual(msg.chat.chatType, 'direct');
    assert.strictEqual(msg.chat.senderName, 'Ada');
    assert.strictEqual(msg.chat.mentioned, true);
    assert.deepStrictEqual(msg.chat.command, { name: 'new', args: 'now please' });
    assert.ok(msg.chat.messageId);
    const user = await c.waitForEvent((e) => e.role === 'user');
    assert.strictEqual(user.clientId, 'c1');
    const reply = await c.waitForEvent((e) => e.role === 'bot' && e.done);
    assert.strictEqual(reply.text, 'echo: /new  now please');
    assert.ok(reply.seq > user.seq);
  });

  it('streams partials into one reply and finishes it with the final', async function () {
    const fn = `
      const id = 'turn-1';
      node.send({ ...msg, payload: '', stream: { id, seq: 0, delta: '', done: false } });
      node.send({ ...msg, payload: 'Hel', stream: { id, seq: 1, delta: 'Hel', done: false } });
      node.send({ ...msg, payload: 'Hello there', stream: { id, seq: 2, delta: 'lo there', done: true } });
      return null;`;
    await helper.load(webchatModules, flow(fn));
    const c = await connect();
    c.send('hi');
    const final = await c.waitForEvent((e) => e.role === 'bot' && e.done);
    const bot = c.frames.filter((f) => f.type === 'event' && f.event.role === 'bot').map((f: any) => f.event);
    assert.deepStrictEqual(
      bot.map((e) => [e.id, e.text, e.done]),
      [
        ['r-turn-1', '', false],
        ['r-turn-1', 'Hel', false],
        ['r-turn-1', 'Hello there', true],
      ],
    );
    assert.strictEqual(final.text, 'Hello there');
  });

  it('keeps a reply sent while the browser was away and gives it on reconnect', async function () {
    // The function holds the turn (no output); the test answers it later, while the socket is gone.
    await helper.load(webchatModules, flow('return null;'));
    const held = new Promise<any>((resolve) => helper.getNode('seen').on('input', resolve));
    const c1 = await connect();
    c1.send('question');
    const user = await c1.waitForEvent((e) => e.role === 'user');
    const msg = await held;
    const { epoch } = c1.welcome;
    await c1.close();
    const cfg = helper.getNode('cfg');
    await waitUntil(() => (cfg.server.clientCount === 0 ? true : undefined));
    helper.getNode('out').receive({ ...msg, payload: 'the late answer' });
    await waitUntil(async () => {
      const r = await cfg.server.outbox.since(PEER, epoch, user.seq);
      return r.events.length ? true : undefined;
    });
    const c2 = await connect({ epoch, lastSeq: user.seq });
    const w = c2.welcome;
    assert.strictEqual(w.reset, false);
    assert.deepStrictEqual(
      w.events.map((e) => [e.role, e.text]),
      [['bot', 'the late answer']],
    );
  });

  it('does not run a turn twice when the page resends a message after a drop', async function () {
    await helper.load(webchatModules, flow(ECHO));
    let turns = 0;
    helper.getNode('seen').on('input', () => turns++);
    const c = await connect();
    c.send('once', 'same-id');
    await c.waitForEvent((e) => e.role === 'bot' && e.done);
    const c2 = await connect();
    c2.send('once', 'same-id');
    const ack = await c2.waitForEvent((e) => e.role === 'user' && e.clientId === 'same-id');
    assert.strictEqual(ack.text, 'once');
    assert.strictEqual(turns, 1);
  });

  it('keeps the transcript in the user dir across a restart', async function () {
    await helper.load(webchatModules, flow(ECHO));
    const c = await connect();
    c.send('remember me');
    await c.waitForEvent((e) => e.role === 'bot' && e.done);
    await c.close();
    await helper.unload();
    const dir = path.join(userDir, 'clawflow', 'webchat', 'cfg');
    assert.ok(fs.existsSync(path.join(dir, `${PEER}.jsonl`)), 'transcript file written');
    await helper.load(webchatModules, flow(ECHO));
    const again = await connect({ epoch: c.welcome.epoch, lastSeq: 99 });
    assert.strictEqual(again.welcome.reset, true);
    assert.deepStrictEqual(
      again.welcome.events.map((e) => [e.role, e.text]),
      [
        ['user', 'remember me'],
        ['bot', 'echo: remember me'],
      ],
    );
  });

  it('shows msg.error as a failed reply', async function () {
    const fn = `msg.payload = 'partial'; msg.error = { message: 'provider said 503' }; msg.stream = { id: 'x', seq: 1, delta: '', done: true }; return msg;`;
    await helper.load(webchatModules, flow(fn));
    const c = await connect();
    c.send('hi');
    const failed = await c.waitForEvent((e) => e.role === 'bot');
    assert.strictEqual(failed.error, 'provider said 503');
    assert.strictEqual(failed.text, 'partial');
    assert.strictEqual(failed.done, true);
  });

  it('refuses a foreign Origin, a missing ticket and a reused ticket', async function () {
    await helper.load(webchatModules, flow(ECHO));
    const t1 = await requestTicket(page);
    await assert.rejects(openSocket(page, t1.body.ticket, 'http://evil.example'), /403/);
    await assert.rejects(openSocket(page, 'made-up', new URL(page).origin), /401/);
    const t2 = await requestTicket(page);
    const ws = await openSocket(page, t2.body.ticket, new URL(page).origin);
    ws.close();
    await assert.rejects(openSocket(page, t2.body.ticket, new URL(page).origin), /401/);
  });

  it('accepts a listed extra origin', async function () {
    await helper.load(webchatModules, flow(ECHO, { origins: 'https://app.example.com, http://other.test:8080' }));
    const c = await connect({ origin: 'https://app.example.com' });
    assert.strictEqual(c.welcome.type, 'welcome');
  });

  it('asks for the access token when one is set, and never puts it in msg', async function () {
    await helper.load(webchatModules, flow(ECHO), { cfg: { token: 's3cret-token' } });
    assert.deepStrictEqual(await requestTicket(page), { status: 401, body: { error: 'token_required' } });
    assert.deepStrictEqual(await requestTicket(page, 'wrong'), { status: 401, body: { error: 'token_invalid' } });
    const cfg = await (await fetch(page + 'config.json')).json();
    assert.strictEqual(cfg.tokenRequired, true);
    const seen = new Promise<any>((resolve) => helper.getNode('seen').on('input', resolve));
    const c = await connect({ token: 's3cret-token' });
    c.send('hi');
    const msg = await seen;
    assert.ok(!JSON.stringify(msg).includes('s3cret-token'));
  });

  it('webchat out reports a msg without a web chat envelope with done(err)', async function () {
    await helper.load(webchatModules, flow(ECHO));
    const out = helper.getNode('out');
    const errors: string[] = [];
    out.on('call:error', (call: any) => errors.push(String(call.args[0]?.message ?? call.args[0])));
    out.receive({ payload: 'x' });
    out.receive({ payload: 'x', chat: { channel: 'telegram', account: '1', chatId: '2', chatType: 'direct', senderId: '2' } });
    out.receive({ payload: 'x', chat: { channel: 'webchat', account: 'other', chatId: PEER, chatType: 'direct', senderId: PEER } });
    await waitUntil(() => (errors.length === 3 ? true : undefined));
    assert.match(errors[0], /msg\.chat is missing/);
    // The helper has no message catalog loaded: RED._ returns the key.
    assert.match(errors[1], /telegram|not-webchat/);
    assert.match(errors[2], /other|other-chat/);
  });

  it('refuses a bad path with a clear error and serves nothing', async function () {
    await helper.load(webchatModules, flow(ECHO, { path: '/../etc' }));
    const cfg = helper.getNode('cfg');
    assert.ok(!cfg.server);
    assert.strictEqual((await fetch(helper.url() + '/etc/')).status, 404);
  });

  it('removes its route, upgrade listener and sockets on redeploy', async function () {
    const server = (helper as any)._server;
    const before = server.listenerCount('upgrade');
    await helper.load(webchatModules, flow(ECHO));
    assert.strictEqual(server.listenerCount('upgrade'), before + 1);
    const c = await connect();
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code: number) => resolve(code)));
    await helper.unload();
    assert.strictEqual(await closed, 1001);
    assert.strictEqual(server.listenerCount('upgrade'), before);
    assert.strictEqual((await fetch(page)).status, 404);
    // Load again on the same path: no "duplicate path", the page is back.
    await helper.load(webchatModules, flow(ECHO));
    assert.strictEqual((await fetch(page)).status, 200);
    assert.strictEqual(server.listenerCount('upgrade'), before + 1);
  });
});

/** Poll (on the event loop, no fixed sleep) until `fn` returns a value. */
async function waitUntil<T>(fn: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition never became true');
    await new Promise((r) => setTimeout(r, 10));
  }
}
