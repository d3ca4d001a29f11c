import assert from 'node:assert/strict';
import { FloodGate, RouteFilter, type Rejected } from '../../../src/routing';
import { MemoryKeyValueStore } from '../../../src/store/kv';
import { discordGuild, fakeClock, telegramDm, telegramGroup, webchat } from './envelopes';

describe('routing/FloodGate', () => {
  it('allows `limit` per window, then refuses; only the first refusal of a window notifies', () => {
    const g = new FloodGate({ limit: 3, windowMs: 60_000 });
    const t0 = 1000; // the window opens at the first hit, t0 + 1
    assert.deepEqual([1, 2, 3].map((i) => g.hit('p', t0 + i).allowed), [true, true, true]);
    const over1 = g.hit('p', t0 + 10);
    const over2 = g.hit('p', t0 + 20);
    assert.deepEqual(over1, { allowed: false, notify: true, retryAfterMs: 60_000 - 9 });
    assert.equal(over2.allowed, false);
    assert.equal(!over2.allowed && over2.notify, false);
    // Another peer has its own budget.
    assert.equal(g.hit('q', t0 + 20).allowed, true);
  });

  it('a new window starts after windowMs and notifies again once', () => {
    const g = new FloodGate({ limit: 1, windowMs: 1000 });
    g.hit('p', 0);
    assert.equal(g.hit('p', 999).allowed, false);
    assert.equal(g.hit('p', 1000).allowed, true);
    const v = g.hit('p', 1001);
    assert.ok(!v.allowed && v.notify);
  });

  it('limit 0 turns it off', () => {
    const g = new FloodGate({ limit: 0, windowMs: 1000 });
    for (let i = 0; i < 100; i++) assert.equal(g.hit('p', i).allowed, true);
    assert.equal(g.enabled, false);
  });

  it('forgets idle peers, so memory is bounded by active peers', () => {
    const g = new FloodGate({ limit: 5, windowMs: 1000 });
    for (let i = 0; i < 500; i++) g.hit(`peer-${i}`, 0);
    assert.equal(g.trackedPeers, 500);
    g.hit('late', 5000);
    assert.equal(g.trackedPeers, 1);
  });
});

describe('routing/RouteFilter: flood control', () => {
  function setup(limit = 2, windowMs = 60_000) {
    const clock = fakeClock();
    const f = new RouteFilter({
      store: new MemoryKeyValueStore(),
      now: clock.now,
      dmPolicy: 'open',
      groupPolicy: 'open',
      rateLimit: limit,
      rateWindowMs: windowMs,
    });
    return { f, clock };
  }

  it('over the limit: rate_limited, one polite reply per window, then accepted again', async () => {
    const { f, clock } = setup(2, 60_000);
    const r: Rejected[] = [];
    for (let i = 0; i < 5; i++) r.push((await f.decide(telegramDm('9'))) as Rejected);
    assert.deepEqual(r.map((d) => d.reason), ['open', 'open', 'rate_limited', 'rate_limited', 'rate_limited']);
    assert.deepEqual(r.map((d) => d.reply?.key), [undefined, undefined, 'rateLimited', undefined, undefined]);
    assert.equal(r[2].reply?.params.seconds, 60);
    clock.advance(60_000);
    assert.equal((await f.decide(telegramDm('9'))).accept, true);
  });

  it('peers are counted separately (per channel, per sender)', async () => {
    const { f } = setup(1);
    assert.equal((await f.decide(telegramDm('9'))).accept, true);
    assert.equal((await f.decide(telegramDm('10'))).accept, true);
    assert.equal((await f.decide(webchat('9'))).accept, true);
    assert.equal((await f.decide(telegramDm('9'))).reason, 'rate_limited');
  });

  it('ignored group chatter does not use up a peer\'s budget', async () => {
    const { f } = setup(1);
    for (let i = 0; i < 10; i++) assert.equal((await f.decide(discordGuild('5'))).reason, 'not_mentioned');
    assert.equal((await f.decide(discordGuild('5', { mentioned: true }))).accept, true);
    assert.equal((await f.decide(telegramGroup('5', { mentioned: true }))).accept, true);
  });

  it('a stranger flooding under pairing gets at most `limit` pairing replies and one rate reply per window', async () => {
    const clock = fakeClock();
    const f = new RouteFilter({ store: new MemoryKeyValueStore(), now: clock.now, rateLimit: 3, rateWindowMs: 60_000 });
    const keys: (string | undefined)[] = [];
    for (let i = 0; i < 20; i++) keys.push(((await f.decide(telegramDm('spam'))) as Rejected).reply?.key);
    assert.deepEqual(keys.filter(Boolean), ['pairingRequired', 'pairingPending', 'pairingPending', 'rateLimited']);
  });
});
