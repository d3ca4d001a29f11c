/**
 * Two instances on one Redis each get every Discord message (a bot's gateway sessions all
 * receive it). The route filter answers a stranger, an owner's /pair command or a "slow down"
 * once across the instances: each one decides on the same message, only one replies.
 */
import assert from 'assert';
import crypto from 'crypto';
import { RedisSessionStore } from '../../../src/gateway/redis-store';
import { RouteFilter } from '../../../src/routing';
import { MemoryKeyValueStore } from '../../../src/store/kv';
import { dropPrefix } from '../../fakes/gateway-redis-cluster';
import { canConnect, needService } from '../../support/services';
import { discordDm } from './envelopes';

const URL = 'redis://127.0.0.1:6379';

describe('route filter on Redis: two instances, one answer', function () {
  this.timeout(15_000);
  let prefix: string;
  const stores: RedisSessionStore[] = [];

  before(async function () {
    needService(this, 'route filter on Redis', await canConnect(6379), 'no Redis on 127.0.0.1:6379 (start redis-server)');
  });
  beforeEach(() => (prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`));
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await dropPrefix(URL, prefix);
  });

  /** Two filters with their own Redis connections on one pairing namespace, like two Node-REDs. */
  async function twoFilters(opts: Partial<ConstructorParameters<typeof RouteFilter>[0]> = {}): Promise<[RouteFilter, RouteFilter]> {
    const make = async () => {
      const store = new RedisSessionStore({ url: URL, prefix });
      await store.open();
      stores.push(store);
      return new RouteFilter({ store: store.kv('pairing-rf'), owners: 'discord:900', ...opts });
    };
    return [await make(), await make()];
  }

  it('a stranger gets one pairing code, and it is the one the owner can approve', async () => {
    const [a, b] = await twoFilters();
    const dm = discordDm('501', 'hi');
    const [da, db] = await Promise.all([a.decide(dm), b.decide({ ...dm })]);
    const replies = [da, db].filter((d) => !d.accept && d.reply);
    assert.strictEqual(replies.length, 1, `decisions: ${JSON.stringify([da.reason, db.reason])}`);
    assert.deepStrictEqual([da.reason, db.reason].sort(), ['handled_elsewhere', 'pairing_required']);
    const code = (replies[0] as { pairing?: { code: string } }).pairing!.code;
    const listing = (await a.list()) as { listing: { pending: { code: string }[] } };
    assert.deepStrictEqual(listing.listing.pending.map((p) => p.code), [code]);
    // The next message of the stranger is answered once too (pending, same code).
    const again = discordDm('501', 'hello?');
    const next = await Promise.all([a.decide(again), b.decide({ ...again })]);
    assert.deepStrictEqual(next.map((d) => d.reason).sort(), ['handled_elsewhere', 'pairing_pending']);
  });

  it("the owner's /pair approve runs once: one \"approved\", no \"unknown code\" from the other instance", async () => {
    const [a, b] = await twoFilters();
    const asked = await a.decide(discordDm('502', 'let me in'));
    const code = (asked as { pairing?: { code: string } }).pairing!.code;
    const cmd = discordDm('900', `/pair approve ${code}`, { command: { name: 'pair', args: `approve ${code}` } });
    const both = await Promise.all([a.decide(cmd), b.decide({ ...cmd })]);
    assert.deepStrictEqual(both.map((d) => d.reason).sort(), ['handled_elsewhere', 'pairing_command']);
    const answered = both.find((d) => d.reason === 'pairing_command') as { reply?: { key: string } };
    assert.ok(answered.reply && !/unknown/i.test(answered.reply.key), JSON.stringify(answered.reply));
    assert.strictEqual((await b.decide(discordDm('502', 'thanks'))).reason, 'paired');
  });

  it('without a shared store every message is the instance\'s own to answer', async () => {
    const f = new RouteFilter({ store: new MemoryKeyValueStore() });
    const dm = discordDm('503', 'hi');
    assert.strictEqual((await f.decide(dm)).reason, 'pairing_required');
    assert.strictEqual((await f.decide({ ...dm })).reason, 'pairing_pending');
  });
});
