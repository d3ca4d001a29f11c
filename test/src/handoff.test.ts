/**
 * The hand-off registry alone: each outcome, the bound, ids that are not awaited, receivers.
 */
import assert from 'assert';
import {
  acceptHandoffs, cancelHandoff, expectHandoff, handedOff, handoffIdOf, handoffReceivers, HANDOFF_PROP, newHandoffId, pendingHandoffs,
} from '../../src/handoff';

describe('handoff', () => {
  afterEach(() => assert.strictEqual(pendingHandoffs(), 0, 'a hand-off was left waiting'));

  it('resolves "handed" when the message is handed off, and only once', async () => {
    const id = newHandoffId();
    const p = expectHandoff(id, 10_000);
    assert.strictEqual(handedOff(id), true);
    assert.strictEqual(handedOff(id), false, 'a second hand-off of the same id changes nothing');
    assert.strictEqual(cancelHandoff(id), false);
    assert.strictEqual(await p, 'handed');
  });

  it('resolves "cancelled" when the receiver could not take it', async () => {
    const id = newHandoffId();
    const p = expectHandoff(id, 10_000);
    assert.strictEqual(cancelHandoff(id), true);
    assert.strictEqual(handedOff(id), false);
    assert.strictEqual(await p, 'cancelled');
  });

  it('resolves "timeout" when nobody says anything within the bound', async () => {
    const id = newHandoffId();
    assert.strictEqual(await expectHandoff(id, 5), 'timeout');
    assert.strictEqual(handedOff(id), false, 'a late hand-off is ignored');
  });

  it('a bound reached while a receiver closed is "cancelled": the message may be lost at the closed node', async () => {
    const release = acceptHandoffs();
    const p = expectHandoff(newHandoffId(), 5);
    release(); // a session node closes (redeploy) while the message is on its way
    assert.strictEqual(await p, 'cancelled');
    const quiet = expectHandoff(newHandoffId(), 5);
    assert.strictEqual(await quiet, 'timeout', 'without a close in between it is a plain timeout');
  });

  it('ignores ids nobody waits for and values that are not ids', () => {
    for (const v of [undefined, null, 42, {}, 'not-awaited']) {
      assert.strictEqual(handedOff(v), false);
      assert.strictEqual(cancelHandoff(v), false);
    }
  });

  it('an id expected twice: the older waiter is cancelled, not left hanging', async () => {
    const id = newHandoffId();
    const first = expectHandoff(id, 10_000);
    const second = expectHandoff(id, 10_000);
    assert.strictEqual(await first, 'cancelled');
    handedOff(id);
    assert.strictEqual(await second, 'handed');
  });

  it('reads the id from a msg only when it is a string', () => {
    assert.strictEqual(handoffIdOf({ [HANDOFF_PROP]: 'abc' }), 'abc');
    assert.strictEqual(handoffIdOf({ [HANDOFF_PROP]: 5 }), undefined);
    assert.strictEqual(handoffIdOf({}), undefined);
    assert.strictEqual(handoffIdOf(null), undefined);
    assert.strictEqual(HANDOFF_PROP.startsWith('_'), true, 'internal property, underscore like _msgid');
  });

  it('counts receivers; a release counts once', () => {
    const before = handoffReceivers();
    const a = acceptHandoffs();
    const b = acceptHandoffs();
    assert.strictEqual(handoffReceivers(), before + 2);
    a();
    a();
    assert.strictEqual(handoffReceivers(), before + 1);
    b();
    assert.strictEqual(handoffReceivers(), before);
  });
});
