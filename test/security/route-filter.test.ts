import assert from 'node:assert/strict';
import { RouteFilter, type Rejected } from '../../src/routing';
import { MemoryKeyValueStore } from '../../src/store/kv';
import { fakeClock, pairCommand, telegramDm } from '../src/routing/envelopes';

describe('security: route filter owners', () => {
  it('an owner entry that is a wildcard is refused: it would make everyone an owner', () => {
    for (const owners of ['telegram:*', 'telegram:1, discord:*', ['webchat:*']]) {
      assert.throws(
        () => new RouteFilter({ store: new MemoryKeyValueStore(), now: fakeClock().now, owners }),
        /owners: .*\* would make everyone on that channel an owner/,
        JSON.stringify(owners),
      );
    }
  });

  it('wildcards stay allowed in the DM allowlist, and a stranger still cannot approve themselves', async () => {
    const f = new RouteFilter({ store: new MemoryKeyValueStore(), now: fakeClock().now, owners: 'telegram:1', allowFrom: 'webchat:*' });
    const asked = (await f.decide(telegramDm('42'))) as Rejected;
    const code = asked.pairing!.code;
    const self = (await f.decide(telegramDm('42', `/pair approve ${code}`, { command: pairCommand(`approve ${code}`) }))) as Rejected;
    assert.equal(self.accept, false);
    assert.notEqual(self.reply?.key, 'approved');
    assert.equal((await f.decide(telegramDm('42'))).accept, false, 'still not paired');
  });
});
