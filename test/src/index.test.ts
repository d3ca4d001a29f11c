import assert from 'assert';
import * as clawflow from '../../src';

describe('public engine entry (src/index.ts)', () => {
  it('exposes the layers a third-party module or benchmark needs', () => {
    assert.strictEqual(typeof clawflow.requireEnvelope, 'function');
    assert.strictEqual(typeof clawflow.gateway.Gateway, 'function');
    assert.strictEqual(typeof clawflow.routing.RouteFilter, 'function');
    assert.strictEqual(typeof clawflow.splitMessage, 'function');
    assert.strictEqual(typeof clawflow.StreamRelay, 'function');
  });

  it('lets another module register a provider that the registry then lists', () => {
    const name = `test-provider-${process.pid}`;
    clawflow.registerProvider(name, () => {
      throw new Error('not called in this test');
    });
    try {
      assert.ok(clawflow.listProviders().some((p) => p.name === name));
      assert.ok(clawflow.hasProvider(name));
    } finally {
      clawflow.unregisterProvider(name);
    }
    assert.ok(!clawflow.hasProvider(name));
  });

  it('requireEnvelope names what is missing', () => {
    assert.throws(() => clawflow.requireEnvelope(undefined), /msg\.chat is missing/);
    assert.throws(
      () => clawflow.requireEnvelope({ channel: 'telegram', chatType: 'direct' }),
      /missing msg\.chat\.account, msg\.chat\.chatId, msg\.chat\.senderId/,
    );
    assert.throws(
      () => clawflow.requireEnvelope({ channel: 'x', account: 'a', chatId: 'c', senderId: 's', chatType: 'room' }),
      /chatType must be "direct" or "group"/,
    );
    const chat = clawflow.requireEnvelope({ channel: 'x', account: 'a', chatId: 'c', senderId: 's', chatType: 'direct' });
    assert.strictEqual(chat.mentioned, true, 'direct chats count as mentioned');
    assert.deepStrictEqual(chat.attachments, []);
  });

  it('turn signals abort once and are released', () => {
    const s = clawflow.turnSignal('t-1');
    assert.ok(!s.aborted);
    clawflow.abortTurn('t-1', 'interrupted');
    assert.ok(s.aborted);
    clawflow.releaseTurnSignal('t-1');
    assert.ok(!clawflow.turnSignal('t-1').aborted, 'a released id starts fresh');
    clawflow.releaseTurnSignal('t-1');
  });
});
