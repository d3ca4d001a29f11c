import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Outbox } from '../../../../src/channels/webchat/outbox';
import { FileTranscriptStore, MemoryTranscriptStore } from '../../../../src/channels/webchat/transcript';

const P = 'peer-0123456789';

describe('webchat Outbox', function () {
  it('numbers changes per peer and folds partials of one reply into one entry', async function () {
    const box = new Outbox({ store: new MemoryTranscriptStore() });
    const u = await box.record(P, { id: 'u1', role: 'user', text: 'hi', done: true });
    const p1 = await box.record(P, { id: 'r1', role: 'bot', text: '', done: false });
    const p2 = await box.record(P, { id: 'r1', role: 'bot', text: 'Hel', done: false });
    const other = await box.record('peer-other-1', { id: 'x', role: 'user', text: 'x', done: true });
    assert.deepStrictEqual([u.seq, p1.seq, p2.seq, other.seq], [1, 2, 3, 1]);
    const all = await box.since(P, undefined, undefined);
    assert.strictEqual(all.reset, true);
    assert.deepStrictEqual(all.events.map((e) => [e.id, e.text, e.seq]), [['u1', 'hi', 1], ['r1', 'Hel', 3]]);
    const missed = await box.since(P, all.epoch, 1);
    assert.strictEqual(missed.reset, false);
    assert.deepStrictEqual(missed.events.map((e) => e.text), ['Hel']);
    assert.strictEqual(p2.ts, p1.ts, 'an entry keeps the time it started');
  });

  it('gives the whole history when the epoch is unknown or the seq is ahead', async function () {
    const box = new Outbox({ store: new MemoryTranscriptStore() });
    await box.record(P, { id: 'u1', role: 'user', text: 'a', done: true });
    const { epoch } = await box.since(P, undefined, undefined);
    assert.strictEqual((await box.since(P, 'other-epoch', 1)).reset, true);
    assert.strictEqual((await box.since(P, epoch, 50)).reset, true);
    assert.strictEqual((await box.since(P, epoch, 1)).events.length, 0);
  });

  it('keeps at most `limit` entries', async function () {
    const box = new Outbox({ store: new MemoryTranscriptStore(), limit: 3 });
    for (let i = 0; i < 6; i++) await box.record(P, { id: `m${i}`, role: 'user', text: String(i), done: true });
    assert.deepStrictEqual((await box.since(P, undefined, undefined)).events.map((e) => e.text), ['3', '4', '5']);
  });

  it('finds a user message by the page id (a resend)', async function () {
    const box = new Outbox({ store: new MemoryTranscriptStore() });
    await box.record(P, { id: 'u1', role: 'user', text: 'a', done: true, clientId: 'c-1' });
    assert.strictEqual((await box.findByClientId(P, 'c-1'))?.id, 'u1');
    assert.strictEqual(await box.findByClientId(P, 'c-2'), undefined);
  });

  describe('with a file store', function () {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-outbox-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('stores finished entries only, and a new outbox continues the numbering', async function () {
      const box = new Outbox({ store: new FileTranscriptStore(dir) });
      await box.record(P, { id: 'u1', role: 'user', text: 'q', done: true });
      await box.record(P, { id: 'r1', role: 'bot', text: 'par', done: false });
      await box.record(P, { id: 'r1', role: 'bot', text: 'partial then final', done: true });
      await box.record(P, { id: 'r2', role: 'bot', text: 'never finished', done: false });
      await box.flush();
      const lines = fs.readFileSync(path.join(dir, `${P}.jsonl`), 'utf8').trim().split('\n');
      assert.strictEqual(lines.length, 2);
      const again = new Outbox({ store: new FileTranscriptStore(dir) });
      const h = await again.since(P, undefined, undefined);
      assert.deepStrictEqual(h.events.map((e) => e.text), ['q', 'partial then final']);
      const next = await again.record(P, { id: 'u2', role: 'user', text: 'more', done: true });
      assert.ok(next.seq > h.events[1].seq);
      // Its write is queued: let it land before afterEach removes the directory (ENOTEMPTY).
      await again.flush();
    });

    it('compacts the file when it grows past twice the limit', async function () {
      const box = new Outbox({ store: new FileTranscriptStore(dir), limit: 5 });
      for (let i = 0; i < 12; i++) await box.record(P, { id: `m${i}`, role: 'user', text: String(i), done: true });
      await box.flush();
      const lines = fs.readFileSync(path.join(dir, `${P}.jsonl`), 'utf8').trim().split('\n');
      assert.ok(lines.length <= 10, `file has ${lines.length} lines`);
      const again = new Outbox({ store: new FileTranscriptStore(dir), limit: 5 });
      assert.deepStrictEqual((await again.since(P, undefined, undefined)).events.map((e) => e.text), ['7', '8', '9', '10', '11']);
    });

    it('skips a torn last line and reports a failing store without throwing', async function () {
      fs.writeFileSync(path.join(dir, `${P}.jsonl`), JSON.stringify({ seq: 1, id: 'a', role: 'user', text: 'ok', done: true, ts: 1 }) + '\n{"seq":2,"id"');
      const torn: string[] = [];
      const box = new Outbox({ store: new FileTranscriptStore(dir, (f) => torn.push(f)) });
      assert.deepStrictEqual((await box.since(P, undefined, undefined)).events.map((e) => e.text), ['ok']);
      assert.strictEqual(torn.length, 1);

      const errors: unknown[] = [];
      const failing = new Outbox({
        store: { load: async () => [], append: async () => Promise.reject(new Error('disk full')), rewrite: async () => undefined },
        onError: (e) => errors.push(e),
      });
      const ev = await failing.record(P, { id: 'x', role: 'user', text: 'kept in memory', done: true });
      await failing.flush();
      assert.strictEqual(ev.text, 'kept in memory');
      assert.match(String(errors[0]), /disk full/);
    });

    it('refuses a peer id that could name another path', async function () {
      const store = new FileTranscriptStore(dir);
      await assert.rejects(store.append('../../etc/passwd', { seq: 1, id: 'a', role: 'user', text: '', done: true, ts: 1 }), /invalid web chat peer id/);
    });
  });
});
