import assert from 'assert';
import { WebhookLedger } from '../../../../src/channels/telegram/webhook';

describe('telegram WebhookLedger (decision 0170)', function () {
  const never = new Promise<boolean>(() => undefined);

  it('a taken update is done; the floor moves past it', function () {
    const l = new WebhookLedger(10);
    assert.strictEqual(l.check(9), 'done');
    assert.strictEqual(l.check(10), 'new');
    l.begin(10, never);
    assert.strictEqual(l.check(10), never, 'the same update in flight shares its outcome');
    assert.strictEqual(l.end(10, true), 11);
    assert.strictEqual(l.check(10), 'done');
    assert.strictEqual(l.floor, 11);
  });

  it('a refused update passes when it comes again, although a later one was taken meanwhile', function () {
    const l = new WebhookLedger();
    l.begin(5, never);
    l.begin(6, never);
    assert.strictEqual(l.end(6, true), 5, 'the floor stops at the update still in flight');
    assert.strictEqual(l.end(5, false), undefined, 'refused: the floor stays below it');
    assert.strictEqual(l.floor, 5);
    assert.strictEqual(l.check(6), 'done');
    assert.strictEqual(l.check(5), 'new', 'Telegram re-sends it: handled again');
    l.begin(5, never);
    assert.strictEqual(l.end(5, true), 7);
    assert.strictEqual(l.check(5), 'done');
    assert.strictEqual(l.check(6), 'done');
    assert.strictEqual(l.check(7), 'new');
  });

  it('a restart from the saved floor lets the refused update through', function () {
    const l = new WebhookLedger(100);
    l.begin(100, never);
    l.begin(101, never);
    l.end(101, true);
    l.end(100, false);
    const next = new WebhookLedger(l.floor);
    assert.strictEqual(next.check(100), 'new');
    assert.strictEqual(next.check(99), 'done');
  });

  it('an update far below the saved floor is Telegram numbering anew (a week without updates), not a re-delivery', function () {
    const l = new WebhookLedger(727_334_708);
    assert.strictEqual(l.check(727_334_700), 'done', 'just below: a re-delivery');
    assert.strictEqual(l.check(117_314_199), 'new');
    l.begin(117_314_199, never);
    assert.strictEqual(l.end(117_314_199, true), 117_314_200, 'the new floor is saved');
    assert.strictEqual(l.check(117_314_200), 'new');
    assert.strictEqual(l.check(117_314_199), 'done');
  });
});
