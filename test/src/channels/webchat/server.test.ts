import assert from 'assert';
import http from 'http';
import path from 'path';
import type { AddressInfo } from 'net';
import { Outbox } from '../../../../src/channels/webchat/outbox';
import { MemoryTranscriptStore } from '../../../../src/channels/webchat/transcript';
import { WebchatServer, type InboundMessage } from '../../../../src/channels/webchat/server';
import { WebchatTestClient, openSocket, requestTicket } from '../../../fakes/webchat-client';

const PUBLIC = path.resolve(__dirname, '../../../../public/webchat');
const PEER = 'peer-server-test-1';

/** A plain Node http server mounting the chat at /chat the way express would. */
async function start(opts: Partial<ConstructorParameters<typeof WebchatServer>[0]> = {}) {
  const inbound: InboundMessage[] = [];
  const chat = new WebchatServer({
    wsPath: '/chat/ws',
    publicDir: PUBLIC,
    outbox: new Outbox({ store: new MemoryTranscriptStore() }),
    onMessage: (m) => inbound.push(m),
    ...opts,
  });
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/chat' || url.startsWith('/chat/')) {
      (req as any).originalUrl = url;
      req.url = url.slice('/chat'.length) || '/';
      chat.httpHandler(req, res, () => {
        res.statusCode = 404;
        res.end();
      });
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.on('upgrade', (req, socket, head) => {
    if (!chat.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const page = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat/`;
  return {
    chat,
    page,
    inbound,
    stop: async () => {
      await chat.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('webchat WebchatServer', function () {
  it('answers bad frames with an error frame and keeps the socket', async function () {
    const s = await start();
    try {
      const t = await requestTicket(s.page);
      const ws = await openSocket(s.page, t.body.ticket, new URL(s.page).origin);
      const frames: any[] = [];
      ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
      const next = () => new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(d.toString()))));
      let f = next();
      ws.send(JSON.stringify({ type: 'send', clientId: 'c', text: 'too early' }));
      assert.strictEqual((await f).code, 'not_ready');
      f = next();
      ws.send(Buffer.from([1, 2, 3]), { binary: true });
      assert.match((await f).message, /binary/);
      f = next();
      ws.send('{oops');
      assert.strictEqual((await f).code, 'bad_frame');
      f = next();
      ws.send(JSON.stringify({ type: 'hello', peerId: PEER }));
      assert.strictEqual((await f).type, 'welcome');
      assert.strictEqual(s.inbound.length, 0);
      ws.close();
    } finally {
      await s.stop();
    }
  });

  it('sends every tab of a peer the same events, and none to other peers', async function () {
    const s = await start();
    try {
      const a1 = await WebchatTestClient.connect(s.page, { peerId: PEER });
      const a2 = await WebchatTestClient.connect(s.page, { peerId: PEER });
      const b = await WebchatTestClient.connect(s.page, { peerId: 'peer-someone-else' });
      assert.strictEqual(s.chat.clientCount, 3);
      a1.send('from tab 1');
      await a2.waitForEvent((e) => e.text === 'from tab 1');
      await s.chat.deliver(PEER, { id: 'r', text: 'to both', done: true });
      await a1.waitForEvent((e) => e.text === 'to both');
      await a2.waitForEvent((e) => e.text === 'to both');
      assert.strictEqual(b.frames.filter((f) => f.type === 'event').length, 0);
      assert.deepStrictEqual(s.inbound.map((m) => [m.peerId, m.text]), [[PEER, 'from tab 1']]);
      await Promise.all([a1.close(), a2.close(), b.close()]);
    } finally {
      await s.stop();
    }
  });

  it('serves a reply recorded while the welcome was being prepared exactly once', async function () {
    const s = await start();
    try {
      // Deliver from inside the replay read: the reply lands between since() and the welcome.
      const outbox = s.chat.outbox;
      const since = outbox.since.bind(outbox);
      let injected = false;
      outbox.since = async (...args) => {
        const r = await since(...args);
        if (!injected) {
          injected = true;
          await s.chat.deliver(PEER, { id: 'race', text: 'in between', done: true });
        }
        return r;
      };
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      await c.waitForEvent((e) => e.id === 'race');
      const copies = c.frames.filter((f) => (f.type === 'event' && f.event.id === 'race') || (f.type === 'welcome' && f.events.some((e) => e.id === 'race')));
      assert.strictEqual(copies.length, 1);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('cuts off a socket that stops answering pings', async function () {
    const s = await start({ heartbeatMs: 30 });
    try {
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      assert.strictEqual(s.chat.clientCount, 1);
      // Stop reading: the client never sees a ping, so no pong comes back.
      (c.ws as any)._socket.pause();
      const end = Date.now() + 5000;
      while (s.chat.clientCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.strictEqual(s.chat.clientCount, 0);
      c.ws.terminate();
    } finally {
      await s.stop();
    }
  });

  it('close() ends every socket, refuses new ones and serves no page', async function () {
    const s = await start();
    const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
    const code = new Promise<number>((r) => c.ws.once('close', (n: number) => r(n)));
    const t = await requestTicket(s.page);
    await s.chat.close();
    assert.strictEqual(await code, 1001);
    assert.strictEqual(s.chat.clientCount, 0);
    await assert.rejects(openSocket(s.page, t.body.ticket, new URL(s.page).origin), /503/);
    assert.strictEqual((await fetch(s.page)).status, 404);
    await s.stop();
  });

  it('acks a message only once onMessage says it was taken; not taken: a retry frame and nothing recorded', async function () {
    const answers: ((taken: boolean) => void)[] = [];
    const s = await start({ onMessage: () => new Promise<boolean>((resolve) => answers.push(resolve)), retryAfterMs: 250 });
    try {
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      c.send('first try', 'x1');
      await waitFor(() => answers.length === 1);
      assert.strictEqual(c.frames.filter((f) => f.type === 'event').length, 0, 'acked before the hand-off');
      answers[0](false);
      assert.deepStrictEqual(await c.waitFor((f) => f.type === 'retry'), { type: 'retry', clientId: 'x1', afterMs: 250 });
      assert.strictEqual(await s.chat.outbox.findByClientId(PEER, 'x1'), undefined, 'a refused message counts as a duplicate');
      c.send('first try', 'x1'); // the page's resend
      await waitFor(() => answers.length === 2);
      answers[1](true);
      const ack = await c.waitForEvent((e) => e.role === 'user' && e.clientId === 'x1');
      assert.strictEqual(ack.text, 'first try');
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('close() while a message waits for its hand-off: no ack, no retry, and close waits for the outcome', async function () {
    let answer!: (taken: boolean) => void;
    const s = await start({ onMessage: () => new Promise<boolean>((resolve) => (answer = resolve)) });
    const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
    c.send('mid-close', 'y1');
    await waitFor(() => answer !== undefined);
    let closed = false;
    const closing = s.chat.close().then(() => (closed = true));
    await c.closed;
    assert.strictEqual(closed, false, 'close() did not wait for the message in flight');
    answer(false); // the in-node closed: not taken
    await closing;
    assert.deepStrictEqual(c.frames.map((f) => f.type), ['welcome']);
    await s.stop();
  });
});

/** Poll on the event loop (no fixed sleep) until `cond` holds. */
async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition never became true');
    await new Promise((r) => setTimeout(r, 5));
  }
}
