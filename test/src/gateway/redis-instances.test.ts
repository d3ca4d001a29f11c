/**
 * Two gateway instances in two processes sharing one Redis, answering through the real OpenAI
 * client against one loopback LLM fake that measures, from the outside, what must hold across
 * instances: one turn per session at a time in arrival order, the global limit, the shared
 * backlog bound, take-over after kill -9, and carrying on after a Redis restart.
 */
import assert from 'assert';
import crypto from 'crypto';
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';
import { RedisSessionStore } from '../../../src/gateway/redis-store';
import { GatewaySlowLlm } from '../../fakes/gateway-slow-llm';
import { dropPrefix, freePort, Observed, PrivateRedis, startInstance, type Instance } from '../../fakes/gateway-redis-cluster';
import { canConnect, needService } from '../../support/services';

const SHARED = 'redis://127.0.0.1:6379';
const keyOf = (peer: string) => `telegram:bot1:dm:${peer}`;

describe('gateway on Redis: two instances', function () {
  this.timeout(40_000);
  let fake: GatewaySlowLlm;
  let prefix: string;
  let url: string;
  let seen: Observed;
  const instances: Instance[] = [];
  let privateRedis: PrivateRedis | undefined;
  let tmp: string | undefined;

  before(async function () {
    needService(this, 'gateway on Redis: two instances', await canConnect(6379), 'no Redis on 127.0.0.1:6379 (start redis-server)');
  });
  beforeEach(async () => {
    fake = await new GatewaySlowLlm().start();
    prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
    url = SHARED;
    seen = new Observed();
  });
  afterEach(async () => {
    for (const i of instances.splice(0)) await i.kill();
    await fake.close();
    if (privateRedis) await privateRedis.stop();
    else await dropPrefix(url, prefix);
    privateRedis = undefined;
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  async function two(cfg: Record<string, unknown> = {}): Promise<[Instance, Instance]> {
    const c = { url, prefix, llmUrl: fake.url, leaseTtlMs: 1500, ...cfg };
    const [a, b] = await Promise.all([startInstance('A', seen, c), startInstance('B', seen, c)]);
    instances.push(a, b);
    return [a, b];
  }

  async function histories(peers: string[]): Promise<Map<string, string[]>> {
    const s = new RedisSessionStore({ url, prefix });
    await s.open();
    try {
      const out = new Map<string, string[]>();
      for (const p of peers) out.set(p, (await s.history(keyOf(p))).filter((h) => h.role === 'user').map((h) => h.content));
      return out;
    } finally {
      await s.close();
    }
  }

  it('runs each session one turn at a time in arrival order, within the global limit across both', async () => {
    const [a, b] = await two({ concurrency: 3 });
    fake.delayMs = 20;
    const peers = Array.from({ length: 8 }, (_, i) => `p${i}`);
    let n = 0;
    for (let round = 0; round < 5; round++) {
      const rs = await Promise.all(peers.map((p, i) => ((round + i) % 2 ? a : b).submit(n++, p, `${p}-${round}`)));
      assert.ok(rs.every((r) => r.status === 'accepted'), JSON.stringify(rs));
    }
    await seen.until(() => seen.committed().length === 40);
    assert.strictEqual(fake.maxPerSession, 1, 'two turns of one session overlapped across instances');
    assert.ok(fake.maxInFlight <= 3, `in flight reached ${fake.maxInFlight} with a global limit of 3`);
    assert.ok(fake.maxInFlight >= 2);
    for (const p of peers) {
      const order = fake.received.filter((r) => r.key === keyOf(p)).map((r) => r.messages[r.messages.length - 1].content);
      assert.deepStrictEqual(order, [0, 1, 2, 3, 4].map((r) => `${p}-${r}`), `order of ${p}`);
    }
    assert.strictEqual(new Set(seen.committed()).size, 40, 'every message answered exactly once');
    assert.ok(seen.ended.some((e) => e.from === 'A') && seen.ended.some((e) => e.from === 'B'), 'both instances served turns');
    const h = await histories(peers);
    for (const p of peers) assert.deepStrictEqual(h.get(p), [0, 1, 2, 3, 4].map((r) => `${p}-${r}`));
  });

  it('counts the backlog across both instances: the busy reply comes at the shared bound', async () => {
    const [a, b] = await two({ concurrency: 1, maxWaiting: 5 });
    fake.hold = true;
    assert.strictEqual((await a.submit(0, 'first', 'first')).status, 'accepted');
    await fake.waitForRequests(1);
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).submit(i + 1, `q${i}`, `q${i}`)));
    assert.strictEqual(rs.filter((r) => r.status === 'accepted').length, 5);
    assert.ok(rs.filter((r) => r.status === 'rejected').every((r) => r.reason === 'busy'));
    fake.hold = false;
    fake.release();
    await seen.until(() => seen.committed().length === 6);
    assert.strictEqual(fake.maxInFlight, 1);
    assert.strictEqual(new Set(seen.committed()).size, 6);
  });

  it('kill -9 of one instance with turns in flight: the other answers all of them exactly once', async () => {
    const [a] = await two({ concurrency: 4 });
    fake.hold = true;
    const peers = ['k0', 'k1', 'k2', 'k3'];
    let n = 0;
    for (const round of [0, 1]) {
      for (const p of peers) assert.strictEqual((await a.submit(n++, p, `${p}-${round}`)).status, 'accepted');
    }
    await fake.waitForRequests(4); // A runs four turns; their answers are held
    await a.kill();
    fake.hold = false;
    fake.release();
    await seen.until(() => seen.committed().length === 8);
    assert.ok(seen.ended.every((e) => e.from === 'B'), 'the dead instance finished nothing');
    assert.deepStrictEqual([...seen.committed()].sort(), peers.flatMap((p) => [`${p}-0`, `${p}-1`]).sort());
    const h = await histories(peers);
    for (const p of peers) assert.deepStrictEqual(h.get(p), [`${p}-0`, `${p}-1`], `history of ${p} has each message once, in order`);
  });

  it('a Redis restart mid-run: refusals with a reason during the outage, nothing accepted is lost, both carry on', async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'clawflow-redis-'));
    privateRedis = new PrivateRedis(await freePort(), tmp);
    await privateRedis.start();
    url = privateRedis.url;
    const [a, b] = await two({ concurrency: 2 });
    fake.delayMs = 30;
    const peers = ['r0', 'r1', 'r2', 'r3', 'r4'];
    const accepted: string[] = [];
    let n = 0;
    for (const round of [0, 1]) {
      const rs = await Promise.all(peers.map((p, i) => ((i + round) % 2 ? a : b).submit(n++, p, `${p}-${round}`)));
      rs.forEach((r, i) => r.status === 'accepted' && accepted.push(`${peers[i]}-${round}`));
    }
    assert.strictEqual(accepted.length, 10);
    await seen.until(() => seen.committed().length >= 2);
    await privateRedis.stop();
    const during = await Promise.all([a.submit(n++, 'r0', 'lost-a'), b.submit(n++, 'r1', 'lost-b')]);
    assert.deepStrictEqual(during.map((r) => r.reason), ['unavailable', 'unavailable']);
    await privateRedis.start();
    // After the restart new messages are accepted again without any restart of the instances.
    let after: { status: string } = { status: '' };
    for (let i = 0; i < 50 && after.status !== 'accepted'; i++) {
      after = await a.submit(n++, 'r2', 'after');
      if (after.status !== 'accepted') await new Promise((r) => setTimeout(r, 100));
    }
    assert.strictEqual(after.status, 'accepted');
    accepted.push('after');
    await seen.until(() => accepted.every((t) => seen.committed().includes(t)));
    const h = await histories(peers);
    const all = [...h.values()].flat();
    for (const t of accepted) assert.strictEqual(all.filter((x) => x === t).length, 1, `${t} is in history exactly once`);
    assert.ok(!all.includes('lost-a') && !all.includes('lost-b'), 'refused messages were not kept');
    for (const p of peers) {
      const own = h.get(p)!.filter((t) => t !== 'after');
      assert.deepStrictEqual(own, [`${p}-0`, `${p}-1`], `order of ${p}`);
    }
  });
});
