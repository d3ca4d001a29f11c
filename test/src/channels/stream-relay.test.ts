import assert from 'assert';
import { StreamRelay, type DraftOps } from '../../../src/channels/stream-relay';

/** Records what a platform would see, with ids like a platform assigns them. */
function recorder(opts: { failEdits?: boolean } = {}) {
  const log: string[] = [];
  let next = 1;
  const ops: DraftOps = {
    async send(text) {
      const id = String(next++);
      log.push(`send#${id}:${text}`);
      return id;
    },
    async edit(id, text) {
      if (opts.failEdits) throw new Error('edit refused');
      log.push(`edit#${id}:${text}`);
    },
    async typing() {
      log.push('typing');
    },
    async remove(id) {
      log.push(`remove#${id}`);
    },
  };
  return { ops, log };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StreamRelay', () => {
  let relay: StreamRelay;
  afterEach(() => relay.close());

  it('sends a plain reply in parts when there is no stream', async () => {
    relay = new StreamRelay({ limit: 50 });
    const { ops, log } = recorder();
    const text = 'First paragraph is here.\n\nSecond paragraph is here too.';
    const res = await relay.handle(ops, text);
    assert.deepStrictEqual(log, ['send#1:First paragraph is here.', 'send#2:Second paragraph is here too.']);
    assert.deepStrictEqual(res.messageIds, ['1', '2']);
  });

  it('types first, then edits one draft, and the final reply is that draft (no duplicate)', async () => {
    relay = new StreamRelay({ limit: 4096, editIntervalMs: 20, draftSuffix: ' …' });
    const { ops, log } = recorder();
    await relay.handle(ops, '', { id: 's1', seq: 0, delta: '', done: false });
    assert.deepStrictEqual(log, ['typing']);
    await relay.handle(ops, 'Hel', { id: 's1', seq: 1, delta: 'Hel', done: false });
    await tick(40);
    await relay.handle(ops, 'Hello wor', { id: 's1', seq: 2, delta: 'lo wor', done: false });
    await tick(40);
    const res = await relay.handle(ops, 'Hello world', { id: 's1', seq: 3, delta: 'ld', done: true });
    assert.deepStrictEqual(log, ['typing', 'send#1:Hel …', 'edit#1:Hello wor …', 'edit#1:Hello world']);
    assert.deepStrictEqual(res.messageIds, ['1']);
    assert.strictEqual(relay.activeStreams, 0);
  });

  it('throttles edits: a burst of partials inside one interval gives at most one edit', async () => {
    relay = new StreamRelay({ limit: 4096, editIntervalMs: 200 });
    const { ops, log } = recorder();
    let text = '';
    for (let i = 0; i < 30; i++) {
      text += `w${i} `;
      await relay.handle(ops, text, { id: 's', seq: i, delta: `w${i} `, done: false });
    }
    await relay.handle(ops, text + 'end', { id: 's', seq: 30, delta: 'end', done: true });
    const edits = log.filter((l) => l.startsWith('edit') || l.startsWith('send'));
    assert.ok(edits.length <= 2, `expected at most a draft and a final edit, got ${edits.length}: ${edits}`);
    assert.ok(log[log.length - 1].endsWith(text + 'end'));
  });

  it('a long final edits the draft into part one and sends the rest', async () => {
    relay = new StreamRelay({ limit: 40, editIntervalMs: 0 });
    const { ops, log } = recorder();
    await relay.handle(ops, 'Part one is this.', { id: 'x', seq: 0, delta: '', done: false });
    await tick(10);
    const final = 'Part one is this.\n\nPart two is that one.\n\nPart three ends it.';
    const res = await relay.handle(ops, final, { id: 'x', seq: 1, delta: '', done: true });
    assert.deepStrictEqual(res.messageIds, ['1', '2', '3']);
    assert.deepStrictEqual(log.slice(-2), ['send#2:Part two is that one.', 'send#3:Part three ends it.']);
    assert.ok(log.includes('send#1:Part one is this. …'));
  });

  it('a failing draft edit does not lose the final reply', async () => {
    const errors: unknown[] = [];
    relay = new StreamRelay({ limit: 4096, editIntervalMs: 0, onBackgroundError: (e) => errors.push(e) });
    const { ops, log } = recorder({ failEdits: true });
    await relay.handle(ops, 'a', { id: 'f', seq: 0, delta: 'a', done: false });
    await tick(10);
    await relay.handle(ops, 'ab', { id: 'f', seq: 1, delta: 'b', done: false });
    await tick(10);
    const res = await relay.handle(ops, 'abc', { id: 'f', seq: 2, delta: 'c', done: true });
    assert.strictEqual(errors.length, 2, 'draft edit and final edit failures reported');
    assert.ok(log[0].startsWith('send#1:a'));
    assert.deepStrictEqual(log[log.length - 1], 'send#2:abc', 'final reply sent fresh');
    assert.deepStrictEqual(res.messageIds, ['2']);
  });

  it('a refused draft is not tried again for every partial: one warning per stream, and the final is still sent', async () => {
    const errors: unknown[] = [];
    relay = new StreamRelay({ limit: 4096, editIntervalMs: 0, onBackgroundError: (e) => errors.push(e) });
    const { ops, log } = recorder();
    let refuse = true;
    const send = ops.send;
    ops.send = (text) => (refuse ? Promise.reject(new Error('Forbidden: bot was blocked by the user')) : send(text));
    let text = '';
    for (let i = 0; i < 10; i++) {
      text += 'w ';
      await relay.handle(ops, text, { id: 'b', seq: i, delta: 'w ', done: false });
      await tick(5);
    }
    refuse = false;
    const res = await relay.handle(ops, text + 'end', { id: 'b', seq: 10, delta: 'end', done: true });
    assert.strictEqual(errors.length, 1, 'one draft failure reported, not one per partial');
    assert.deepStrictEqual(log, ['send#1:' + text + 'end']);
    assert.deepStrictEqual(res.messageIds, ['1']);
  });

  it('a final after typing only (the apology of a failed turn) stops typing and is sent once', async () => {
    relay = new StreamRelay({ limit: 4096, typingIntervalMs: 10 });
    const { ops, log } = recorder();
    await relay.handle(ops, '', { id: 'e', seq: 0, delta: '', done: false });
    await relay.handle(ops, 'Sorry!', { id: 'e', seq: 1, delta: '', done: true });
    const n = log.length;
    await tick(50);
    assert.strictEqual(log.length, n, 'no typing after the final');
    assert.deepStrictEqual(log.filter((l) => l.startsWith('send')), ['send#1:Sorry!']);
    assert.strictEqual(relay.activeStreams, 0);
  });

  it('abandon() deletes unfinished drafts (waiting for a send in flight) but not finished replies', async () => {
    relay = new StreamRelay({ limit: 4096, editIntervalMs: 0 });
    const { ops, log } = recorder();
    await relay.handle(ops, 'done', { id: 'a', seq: 0, delta: 'done', done: false });
    await tick(5);
    await relay.handle(ops, 'done.', { id: 'a', seq: 1, delta: '.', done: true });
    await relay.handle(ops, 'half', { id: 'b', seq: 0, delta: 'half', done: false });
    await tick(1); // the draft send has started but not returned yet
    const removed = await relay.abandon(1000);
    assert.strictEqual(removed, 1);
    assert.deepStrictEqual(log.filter((l) => l.startsWith('remove')), ['remove#2']);
    assert.strictEqual(relay.activeStreams, 0);
  });

  it('close() stops typing and forgets streams', async () => {
    relay = new StreamRelay({ limit: 4096, typingIntervalMs: 10 });
    const { ops, log } = recorder();
    await relay.handle(ops, '', { id: 't', seq: 0, delta: '', done: false });
    relay.close();
    const n = log.length;
    await tick(50);
    assert.strictEqual(log.length, n, 'no typing after close');
    assert.strictEqual(relay.activeStreams, 0);
  });
});
