import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { KeyValueDraftJournal } from '../../../src/channels/draft-journal';
import { StreamRelay, type DraftOps } from '../../../src/channels/stream-relay';
import { FileKeyValueStore, MemoryKeyValueStore } from '../../../src/store/kv';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ops of chat `chat` that log every call, with platform-like ids. */
function chatOps(chat: string, log: string[]): DraftOps {
  let next = 100;
  return {
    chat,
    async send(text) {
      const id = String(next++);
      log.push(`send#${id}:${text}`);
      return id;
    },
    async edit(id, text) {
      log.push(`edit#${id}:${text}`);
    },
    async remove(id) {
      log.push(`remove#${id}`);
    },
  };
}

describe('draft journal', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-drafts-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a draft is journaled while it streams and leaves the journal when it becomes the reply', async () => {
    const kv = new MemoryKeyValueStore();
    const relay = new StreamRelay({ limit: 4096, editIntervalMs: 0, journal: new KeyValueDraftJournal(kv) });
    const log: string[] = [];
    const ops = chatOps('42', log);
    await relay.handle(ops, 'Hel', { id: 's', seq: 0, delta: 'Hel', done: false });
    await tick(10);
    assert.deepStrictEqual(await kv.keys(), ['42/100']);
    await relay.handle(ops, 'Hello there', { id: 's', seq: 1, delta: 'lo there', done: true });
    await tick(5);
    assert.deepStrictEqual(await kv.keys(), []);
    assert.deepStrictEqual(log, ['send#100:Hel …', 'edit#100:Hello there']);
    relay.close();
  });

  it('a draft deleted on close leaves the journal; one that could not be deleted stays for the next start', async () => {
    const kv = new MemoryKeyValueStore();
    const relay = new StreamRelay({ limit: 4096, editIntervalMs: 0, journal: new KeyValueDraftJournal(kv) });
    const log: string[] = [];
    const gone = chatOps('1', log);
    const stuck = { ...chatOps('2', log), remove: async () => Promise.reject(new Error('network down')) };
    await relay.handle(gone, 'half', { id: 'a', seq: 0, delta: 'half', done: false });
    await relay.handle(stuck, 'half', { id: 'b', seq: 0, delta: 'half', done: false });
    await tick(10);
    assert.strictEqual(await relay.abandon(500), 1);
    await tick(5);
    assert.deepStrictEqual(await kv.keys(), ['2/100']);
  });

  it('after a kill, the next run deletes the drafts left behind, keeps its own and retries on a network failure', async () => {
    const file = path.join(dir, 'out-node.json');
    // The killed run: two drafts journaled, never finished (no close handler ran).
    const killed = new KeyValueDraftJournal(new FileKeyValueStore(file));
    killed.opened('7', '70');
    killed.opened('8', '80');
    killed.opened('9', '90');
    await tick(50);

    const next = new KeyValueDraftJournal(new FileKeyValueStore(file));
    next.opened('7', '71'); // the new run's own draft: not a leftover
    const removed: string[] = [];
    const { removed: count, kept } = await next.sweep(
      async (chat, message) => {
        if (chat === '8') throw Object.assign(new Error('message to delete not found'), { permanent: true });
        if (chat === '9') throw new Error('ECONNRESET');
        removed.push(`${chat}/${message}`);
      },
      (err) => (err as { permanent?: boolean }).permanent === true,
    );
    assert.strictEqual(count, 1);
    assert.strictEqual(kept, 1, 'the network failure is kept for another try');
    assert.deepStrictEqual(removed, ['7/70']);
    const left = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepStrictEqual(Object.keys(left).sort(), ['7/71', '9/90'], 'the own draft and the one to retry stay');
  });

  it('forgets entries older than 48 hours without trying to delete them', async () => {
    const kv = new MemoryKeyValueStore();
    await kv.set('5/50', { chat: '5', message: '50', boot: 'old', at: Date.now() - 49 * 3600_000 });
    const calls: string[] = [];
    const n = await new KeyValueDraftJournal(kv).sweep(async (c, m) => void calls.push(`${c}/${m}`), () => true);
    assert.deepStrictEqual(n, { removed: 0, kept: 0 });
    assert.deepStrictEqual(calls, []);
    assert.deepStrictEqual(await kv.keys(), []);
  });

  it('reports an unwritable journal once, and the replies still go out', async () => {
    const errors: unknown[] = [];
    const broken = { ...new MemoryKeyValueStore(), set: async () => Promise.reject(new Error('EROFS')), delete: async () => Promise.reject(new Error('EROFS')) };
    const relay = new StreamRelay({ limit: 4096, editIntervalMs: 0, journal: new KeyValueDraftJournal(broken as never, (e) => errors.push(e)) });
    const log: string[] = [];
    for (const id of ['x', 'y']) {
      const ops = chatOps(id, log);
      await relay.handle(ops, 'part', { id, seq: 0, delta: 'part', done: false });
      await tick(5);
      await relay.handle(ops, 'part done', { id, seq: 1, delta: ' done', done: true });
    }
    await tick(5);
    assert.strictEqual(errors.length, 1);
    assert.deepStrictEqual(log.filter((l) => l.startsWith('edit')), ['edit#100:part done', 'edit#100:part done']);
    relay.close();
  });

  it('idle() resolves only once the writes begun before it have ended (a closing node waits for them)', async () => {
    const kv = new MemoryKeyValueStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = Object.assign(Object.create(kv), { set: async (k: string, v: unknown) => (await gate, kv.set(k, v)) });
    const journal = new KeyValueDraftJournal(slow);
    journal.opened('1', '10');
    let idle = false;
    const waiting = journal.idle().then(() => (idle = true));
    await tick(20);
    assert.strictEqual(idle, false, 'idle before the write ended');
    release();
    await waiting;
    assert.deepStrictEqual(await kv.keys(), ['1/10']);
  });
});
