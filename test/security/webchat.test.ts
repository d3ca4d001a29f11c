import assert from 'assert';
import http from 'http';
import os from 'os';
import path from 'path';
import { mkdtemp, rm } from 'fs/promises';
import type { AddressInfo } from 'net';
import { Outbox } from '../../src/channels/webchat/outbox';
import { FileTranscriptStore, MemoryTranscriptStore } from '../../src/channels/webchat/transcript';
import { WebchatServer, MAX_QUEUED_FRAMES, type InboundMessage } from '../../src/channels/webchat/server';
import { MAX_FRAME_BYTES, MAX_TEXT_LENGTH, parseClientFrame } from '../../src/channels/webchat/protocol';
import { WebchatTestClient } from '../fakes/webchat-client';

const PUBLIC = path.resolve(__dirname, '../../public/webchat');
const PEER = 'peer-security-test-1';

/** The chat mounted at /chat on a plain loopback server, as express would mount it. */
async function start(onMessage?: (m: InboundMessage) => void | Promise<boolean>) {
  const inbound: InboundMessage[] = [];
  const chat = new WebchatServer({
    wsPath: '/chat/ws',
    publicDir: PUBLIC,
    outbox: new Outbox({ store: new MemoryTranscriptStore() }),
    onMessage: (m) => {
      inbound.push(m);
      return onMessage?.(m);
    },
  });
  const server = http.createServer((req, res) => {
    (req as any).originalUrl = req.url;
    req.url = (req.url ?? '/').slice('/chat'.length) || '/';
    chat.httpHandler(req, res, () => {
      res.statusCode = 404;
      res.end();
    });
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

describe('security: web chat hostile input', function () {
  it('a frame over 64 KB gets a too_long error and the socket survives', async () => {
    const s = await start();
    try {
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      c.raw(JSON.stringify({ type: 'send', clientId: 'big', text: 'x'.repeat(MAX_FRAME_BYTES * 2) }));
      const err = (await c.waitFor((f) => f.type === 'error')) as any;
      assert.strictEqual(err.code, 'too_long');
      assert.match(err.message, /64 KB/);
      c.send('still here', 'after-big');
      const ack = await c.waitForEvent((e) => e.clientId === 'after-big');
      assert.strictEqual(ack.text, 'still here');
      assert.deepStrictEqual(s.inbound.map((m) => m.text), ['still here']);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('a message over 8,000 characters is refused with the clientId, so the page can mark it failed', async () => {
    const s = await start();
    try {
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      c.send('y'.repeat(MAX_TEXT_LENGTH + 1), 'long-one');
      const err = (await c.waitFor((f) => f.type === 'error')) as any;
      assert.strictEqual(err.code, 'too_long');
      assert.strictEqual(err.clientId, 'long-one');
      assert.strictEqual(s.inbound.length, 0);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('a flood from one socket is bounded: queued frames beyond the cap get a retry frame, none is lost', async () => {
    // The flow takes messages slowly (a hand-off that waits): frames pile up on the socket.
    const gates: (() => void)[] = [];
    const s = await start(() => new Promise<boolean>((resolve) => gates.push(() => resolve(true))));
    try {
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      const n = MAX_QUEUED_FRAMES * 3;
      const ids = Array.from({ length: n }, (_, i) => `flood-${i}`);
      for (const id of ids) c.send(`message ${id}`, id);
      // Every frame past the cap is answered at once with retry (the page sends it again later).
      const retried = new Set<string>();
      await c.waitFor(() => {
        for (const f of c.frames) if (f.type === 'retry') retried.add(f.clientId);
        return retried.size >= n - MAX_QUEUED_FRAMES;
      });
      assert.ok(retried.size >= n - MAX_QUEUED_FRAMES - 1, `retried ${retried.size}`);
      assert.ok(c.frames.some((f) => f.type === 'error' && (f as any).code === 'too_fast'));
      // Let the flow take what was queued: each one is acked, and the socket still works.
      const acked = new Set<string>();
      while (acked.size + retried.size < n) {
        while (gates.length) gates.shift()!();
        const e = await c.waitForEvent((ev) => !!ev.clientId && !acked.has(ev.clientId));
        acked.add(e.clientId!);
      }
      for (const id of ids) assert.ok(acked.has(id) !== retried.has(id), `${id}: exactly one of ack or retry`);
      assert.strictEqual(s.inbound.length, acked.size);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('unicode edge cases (lone surrogates, RTL override, zero-width) pass through intact', async () => {
    const s = await start();
    try {
      const c = await WebchatTestClient.connect(s.page, { peerId: PEER });
      const text = 'a\ud800b \udc00 \u202eevil\u202c \u200b\u200d\ufeff مرحبا 👍🏽';
      c.send(text, 'uni');
      const ack = await c.waitForEvent((e) => e.clientId === 'uni');
      assert.strictEqual(ack.text, text);
      assert.strictEqual(s.inbound[0].text, text);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  it('a peer id that is a path is refused by the socket and by the transcript store', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clawflow-sec-'));
    try {
      const store = new FileTranscriptStore(dir);
      for (const bad of ['../../etc/passwd', '..%2F..%2Fetc', 'abc/../../x', 'a'.repeat(65), '........']) {
        await assert.rejects(store.load(bad), /invalid web chat peer id/);
        await assert.rejects(store.append(bad, { seq: 1, id: 'x', role: 'user', text: 'x', done: true, ts: 1 }), /invalid web chat peer id/);
      }
      assert.throws(() => parseClientFrame(JSON.stringify({ type: 'hello', peerId: '../../etc/passwd' })), /peerId must be/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
