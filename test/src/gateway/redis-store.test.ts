import assert from 'assert';
import crypto from 'crypto';
import { Redis } from 'ioredis';
import { Gateway, type Turn } from '../../../src/gateway';
import { RedisSessionStore, redactRedisUrl } from '../../../src/gateway/redis-store';
import { StoreUnavailableError } from '../../../src/gateway/shared-store';
import type { QueuedMessage } from '../../../src/gateway/types';
import { turnSignal } from '../../../src/turn-signals';
import { chatOf } from '../../fakes/gateway-worker';
import { dropPrefix } from '../../fakes/gateway-redis-cluster';
import { canConnect, needService } from '../../support/services';

const URL = 'redis://127.0.0.1:6379';
const bounds = { maxWaiting: 100, maxWaitingPerSession: 10 };

function msg(key: string, text: string): QueuedMessage {
  return { id: crypto.randomUUID(), key, text, chat: chatOf(key.split(':').pop()!, { text }), ts: Date.now() };
}

describe('redis session store', function () {
  let prefix: string;
  const stores: RedisSessionStore[] = [];
  const gateways: Gateway[] = [];

  before(async function () {
    needService(this, 'redis session store', await canConnect(6379), 'no Redis on 127.0.0.1:6379 (start redis-server)');
  });
  beforeEach(() => {
    prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
  });
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.close();
    for (const s of stores.splice(0)) await s.close();
    await dropPrefix(URL, prefix);
  });

  async function store(opts: Partial<ConstructorParameters<typeof RedisSessionStore>[0]> = {}): Promise<RedisSessionStore> {
    const s = new RedisSessionStore({ url: URL, prefix, leaseTtlMs: 600, ...opts });
    stores.push(s);
    await s.open();
    return s;
  }

  it('enqueues in order, claims one turn at a time with a growing fence, commits history on finish', async () => {
    const s = await store();
    const k = 'telegram:bot1:alice';
    for (const t of ['a1', 'a2']) assert.strictEqual((await s.enqueue(msg(k, t), bounds)).accepted, true);
    const t1 = await s.claim(k, 't1', 'one', 40, Date.now());
    assert.ok(t1);
    assert.deepStrictEqual(t1.items.map((m) => m.text), ['a1']);
    assert.deepStrictEqual(t1.items[0].chat.attachments, [], 'messages come back as they went in');
    assert.strictEqual(await s.claim(k, 't2', 'one', 40, Date.now()), null, 'the lock holds');
    assert.deepStrictEqual(await s.finish(k, 't1', t1.fence, { status: 'done', reply: 'r1', context: { n: 1 } }, Date.now()), { ok: true, sessionWaiting: 1 });
    const t2 = await s.claim(k, 't2', 'one', 40, Date.now());
    assert.strictEqual(t2!.fence, t1.fence + 1);
    assert.deepStrictEqual(t2!.history.map((h) => h.content), ['a1', 'r1']);
    assert.deepStrictEqual(t2!.context, { n: 1 });
    assert.deepStrictEqual(await s.finish(k, 't1', t1.fence, { status: 'done', reply: 'late' }, Date.now()), { ok: false, reason: 'stale' });
    await s.finish(k, 't2', t2!.fence, { status: 'error' }, Date.now());
    assert.deepStrictEqual((await s.history(k)).map((h) => h.content), ['a1', 'r1', 'a2']);
    const rec = await s.session(k);
    assert.strictEqual(rec?.state, 'idle');
    assert.strictEqual(rec?.info.chatId, 'alice');
    assert.strictEqual(await s.session('nobody'), undefined);
  });

  it('checks both backlog bounds atomically across two stores (two instances)', async () => {
    const a = await store();
    const b = await store();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).enqueue(msg(`k${i % 3}`, `m${i}`), { maxWaiting: 12, maxWaitingPerSession: 100 })),
    );
    const ok = results.filter((r) => r.accepted).length;
    assert.strictEqual(ok, 12, 'exactly the global bound is accepted across both');
    assert.ok(results.every((r) => r.accepted || r.reason === 'busy'));
    const per = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).enqueue(msg('solo', `s${i}`), { maxWaiting: 1000, maxWaitingPerSession: 4 })));
    // Two connections race, so which six arrive first is not fixed; the counts are.
    const outcomes = per.map((r) => (r.accepted ? 'ok' : r.reason)).sort();
    assert.deepStrictEqual(outcomes, ['ok', 'ok', 'ok', 'ok', 'session_busy', 'session_busy']);
  });

  it('a message is claimed by the instance that accepted it while that one lives, by any once it is gone', async () => {
    // The web chat socket of a chat lives in the instance its message came in on: the turn (and
    // so the reply) must leave there. Another instance takes over only when that one stopped.
    const a = await store({ instanceId: 'inst-a', sweepEveryMs: 100 });
    const b = await store({ instanceId: 'inst-b', sweepEveryMs: 100 });
    const ka = 'webchat:w1:peer-on-a';
    const kb = 'webchat:w1:peer-on-b';
    await a.enqueue(msg(ka, 'to a'), bounds);
    await b.enqueue(msg(kb, 'to b'), bounds);
    assert.strictEqual(await b.claim(ka, 'tb', 'one', 40, Date.now()), null, 'not b: a accepted it and is alive');
    assert.strictEqual(await a.claim(kb, 'ta', 'one', 40, Date.now()), null, 'not a: b accepted it and is alive');
    const ta = await a.claim(ka, 'ta', 'one', 40, Date.now());
    assert.deepStrictEqual(ta!.items.map((m) => m.text), ['to a']);
    await a.finish(ka, 'ta', ta!.fence, { status: 'done', reply: 'from a' }, Date.now());
    // a stops (killed or closed for good): its heartbeat runs out within one lease.
    await a.enqueue(msg(ka, 'again to a'), bounds);
    await a.close();
    stores.splice(stores.indexOf(a), 1);
    const deadline = Date.now() + 5000;
    let tb = null;
    while (!tb && Date.now() < deadline) {
      tb = await b.claim(ka, 'tb', 'one', 40, Date.now());
      if (!tb) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(tb, 'b took over the message of the instance that is gone');
    assert.deepStrictEqual(tb.items.map((m) => m.text), ['again to a']);
    assert.deepStrictEqual(tb.history.map((h) => h.content), ['to a', 'from a']);
  });

  it('limits running turns across stores to the cluster-wide concurrency', async () => {
    const a = await store({ concurrency: 2 });
    const b = await store({ concurrency: 2 });
    for (const k of ['x', 'y', 'z']) await a.enqueue(msg(k, k), bounds);
    assert.ok(await a.claim('x', 'tx', 'one', 0, 0));
    assert.ok(await b.claim('y', 'ty', 'one', 0, 0));
    assert.strictEqual(await b.claim('z', 'tz', 'one', 0, 0), null);
    assert.strictEqual(b.full, true);
  });

  it('an expired lease is swept back to the head of the queue; the late finisher is fenced', async () => {
    const a = await store();
    const k = 'k';
    await a.enqueue(msg(k, 'first'), bounds);
    await a.enqueue(msg(k, 'second'), bounds);
    const t = await a.claim(k, 'ta', 'one', 40, 0);
    // Instance a "dies": nobody renews. b opens after the lease ran out and takes the turn over.
    await new Promise((r) => setTimeout(r, 700));
    const b = await store();
    const again = await b.claim(k, 'tb', 'one', 40, 0);
    assert.deepStrictEqual(again!.items.map((m) => m.text), ['first']);
    assert.ok(again!.fence > t!.fence);
    assert.deepStrictEqual(await a.finish(k, 'ta', t!.fence, { status: 'done', reply: 'late' }, 0), { ok: false, reason: 'stale' });
    await b.finish(k, 'tb', again!.fence, { status: 'done', reply: 'once' }, 0);
    assert.deepStrictEqual((await b.history(k)).map((h) => h.content), ['first', 'once']);
  });

  it('renewal keeps a lease; a renewal after a take-over says the turn is lost', async () => {
    const a = await store();
    await a.enqueue(msg('k', 'x'), bounds);
    const t = await a.claim('k', 'ta', 'one', 0, 0);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 200));
      assert.strictEqual(await a.renew('k', 'ta', t!.fence), true);
    }
    assert.strictEqual((await a.session('k'))?.state, 'processing', 'still held after 800 ms > lease');
    await a.reset('k', 0);
    assert.strictEqual(await a.renew('k', 'ta', t!.fence), false);
  });

  it('reset clears history and context and drops the running turn; idle sessions expire with the TTL', async () => {
    const s = await store({ idleTtlMs: 60_000 });
    await s.enqueue(msg('k', 'a'), bounds);
    const t = await s.claim('k', 't', 'one', 0, 0);
    await s.finish('k', 't', t!.fence, { status: 'done', reply: 'b', context: { x: 1 } }, 0);
    const r = new Redis(URL);
    try {
      const ttl = await r.pttl(`${prefix}s:k`);
      assert.ok(ttl > 0 && ttl <= 60_000, `idle session has a TTL (${ttl})`);
      await s.enqueue(msg('k', 'c'), bounds);
      assert.strictEqual(await r.pttl(`${prefix}s:k`), -1, 'a session with work does not expire');
      const t2 = await s.claim('k', 't2', 'one', 0, 0);
      assert.deepStrictEqual(await s.reset('k', 0), { abortedTurnId: 't2' });
      assert.deepStrictEqual(await s.history('k'), []);
      assert.deepStrictEqual((await s.session('k'))?.context, {});
      assert.deepStrictEqual(await s.finish('k', 't2', t2!.fence, { status: 'done', reply: 'z' }, 0), { ok: false, reason: 'stale' });
    } finally {
      r.disconnect();
    }
  });

  it('compaction: a summary is kept with its epoch and coverage, stale summaries are refused, a reset voids it', async () => {
    const s = await store();
    const k = 'k';
    for (const t of ['q1', 'q2']) {
      await s.enqueue(msg(k, t), bounds);
      const turn = await s.claim(k, `t-${t}`, 'one', 40, 0);
      await s.finish(k, turn!.turnId, turn!.fence, { status: 'done', reply: `a-${t}` }, 0);
    }
    assert.strictEqual(await s.compact('nobody', { text: 'x', covers: 1, epoch: 0 }, 0), false, 'no session');
    assert.strictEqual(await s.compact(k, { text: 'x', covers: 5, epoch: 0 }, 0), false, 'beyond the history');
    assert.strictEqual(await s.compact(k, { text: 'x', covers: 1, epoch: 1 }, 0), false, 'another epoch');
    assert.strictEqual(await s.compact(k, { text: 'first two', covers: 2, epoch: 0 }, 0), true);
    assert.strictEqual(await s.compact(k, { text: 'older', covers: 2, epoch: 0 }, 0), false, 'not beyond the current summary');
    const rec = await s.session(k);
    assert.deepStrictEqual([rec?.historyCount, rec?.epoch, rec?.summary], [4, 0, { text: 'first two', covers: 2, epoch: 0 }]);
    await s.enqueue(msg(k, 'q3'), bounds);
    const t3 = await s.claim(k, 't3', 'one', 1, 0);
    assert.deepStrictEqual([t3!.total, t3!.epoch, t3!.summary, t3!.history.map((h) => h.content)], [4, 0, { text: 'first two', covers: 2, epoch: 0 }, ['a-q2']]);
    assert.deepStrictEqual((await s.history(k)).length, 4, 'the history list stays whole');
    await s.reset(k, 0);
    const after = await s.session(k);
    assert.deepStrictEqual([after?.historyCount, after?.epoch, after?.summary], [0, 1, undefined]);
    assert.strictEqual(await s.compact(k, { text: 'late', covers: 0, epoch: 0 }, 0), false);
  });

  it('steer: absorbed messages leave the queue and follow the turn\'s own in history; unknown ids are ignored', async () => {
    const s = await store();
    const k = 'k';
    await s.enqueue(msg(k, 'book a table'), bounds);
    const turn = await s.claim(k, 't1', 'one', 40, 0);
    const steer = [msg(k, 'for 4 people'), msg(k, 'at 8'), msg(k, 'unrelated')];
    for (const m of steer) await s.enqueue(m, bounds);
    const absorbed = [steer[1].id, steer[0].id, 'gone-already'];
    // A stale finish moves nothing.
    assert.deepStrictEqual(await s.finish(k, 't1', turn!.fence + 1, { status: 'done', absorbed }, 0), { ok: false, reason: 'stale' });
    assert.deepStrictEqual(await s.finish(k, 't1', turn!.fence, { status: 'done', reply: 'booked', absorbed }, 0), { ok: true, sessionWaiting: 1 });
    assert.deepStrictEqual((await s.history(k)).map((h) => h.content), ['book a table', 'for 4 people', 'at 8', 'booked']);
    const r = new Redis(URL);
    try {
      assert.strictEqual(await r.get(`${prefix}waiting`), '1', 'the shared backlog counter dropped by two');
    } finally {
      r.disconnect();
    }
    const next = await s.claim(k, 't2', 'one', 40, 0);
    assert.deepStrictEqual(next!.items.map((m) => m.text), ['unrelated']);
  });

  it('steer across instances: a message arriving on another instance is not steered, it runs as the next turn', async () => {
    // Two instances: each gateway opens its own store on the same prefix.
    const [g1, g2] = [1, 2].map(() => new Gateway({ store: new RedisSessionStore({ url: URL, prefix, leaseTtlMs: 600 }), mode: 'steer' }));
    gateways.push(g1, g2);
    const seen: { from: string; turn: Turn }[] = [];
    let wake: () => void = () => undefined;
    for (const [from, g] of [['g1', g1], ['g2', g2]] as const) {
      g.on('turn', (turn) => {
        seen.push({ from, turn });
        wake();
      });
      await g.start();
    }
    const next = (n: number) =>
      new Promise<void>((resolve) => {
        wake = () => seen.length >= n && resolve();
        wake();
      }).then(() => seen[n - 1]);
    const first = next(1);
    await g1.submit(chatOf('alice', { text: 'book a table' }));
    const a = await first;
    const r = await (a.from === 'g1' ? g2 : g1).submit(chatOf('alice', { text: 'for 4 people' }));
    assert.deepStrictEqual([r.status, r.status === 'accepted' && r.steered], ['accepted', undefined]);
    const second = next(2);
    assert.strictEqual(await (a.from === 'g1' ? g1 : g2).endTurn(a.turn, { reply: 'for how many?' }), 'ended');
    const b = await second;
    assert.strictEqual(b.turn.text, 'for 4 people');
    await (b.from === 'g1' ? g1 : g2).endTurn(b.turn, { reply: 'booked for 4' });
    assert.deepStrictEqual((await g1.history(a.turn.key)).map((h) => h.content), ['book a table', 'for how many?', 'for 4 people', 'booked for 4']);
  });

  it('key-value namespaces are shared between instances (pairing approvals)', async () => {
    const a = (await store()).kv('pairing');
    const b = (await store()).kv('pairing');
    await a.set('telegram:bot1:42', { approved: true, at: 1 });
    assert.deepStrictEqual(await b.get('telegram:bot1:42'), { approved: true, at: 1 });
    assert.deepStrictEqual(await b.keys('telegram:'), ['telegram:bot1:42']);
    await b.delete('telegram:bot1:42');
    assert.strictEqual(await a.get('telegram:bot1:42'), undefined);
  });

  it('budget counters add up across instances', async () => {
    const a = (await store()).usageLedger();
    const b = (await store()).usageLedger();
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).add('peer:x', '2026-01-01', { messages: 1, inputTokens: 2 })));
    assert.deepStrictEqual(await a.get('peer:x', '2026-01-01'), { messages: 20, inputTokens: 40, outputTokens: 0, tokens: 40 });
    const once = await Promise.all([a.once('peer:x', '2026-01-01', 'n'), b.once('peer:x', '2026-01-01', 'n')]);
    assert.deepStrictEqual(once.sort(), [false, true]);
  });

  it('a Redis that cannot be reached: open still resolves, enqueue fails as unavailable, the gateway refuses with a reason', async () => {
    const s = new RedisSessionStore({ url: 'redis://user:s3cret@127.0.0.1:1', prefix, commandTimeoutMs: 300 });
    const g = new Gateway({ store: s });
    gateways.push(g);
    await g.start();
    await assert.rejects(s.enqueue(msg('k', 'x'), bounds), (err: Error) => err instanceof StoreUnavailableError && !err.message.includes('s3cret'));
    const r = await g.submit(chatOf('alice'));
    assert.strictEqual(r.status, 'rejected');
    assert.strictEqual(r.status === 'rejected' && r.reason, 'unavailable');
    assert.match(g.stats().storeDown ?? '', /unreachable/);
    assert.ok(!redactRedisUrl('redis://u:pw@h:1').includes('pw'));
  });

  it('two gateways on one Redis: a kill-free take-over of a lost lease aborts the first instance\'s turn', async () => {
    const s1 = new RedisSessionStore({ url: URL, prefix, leaseTtlMs: 600 });
    const g1 = new Gateway({ store: s1 });
    gateways.push(g1);
    const turns: string[] = [];
    let signal: AbortSignal | undefined;
    g1.on('turn', (t) => {
      turns.push(t.turnId);
      signal = turnSignal(t.turnId);
    });
    await g1.start();
    await g1.submit(chatOf('alice', { text: 'q' }));
    await new Promise<void>((resolve) => g1.on('turn', () => resolve()));
    // Someone resets the session from another instance: g1's next renewal is refused.
    const s2 = await store();
    await s2.reset(g1.keyOf(chatOf('alice')), 0);
    await new Promise<void>((resolve) => (signal!.aborted ? resolve() : signal!.addEventListener('abort', () => resolve())));
    assert.strictEqual(g1.stats().active, 0, 'the slot is given back');
  });
});
