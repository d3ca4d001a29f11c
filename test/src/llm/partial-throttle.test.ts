import assert from 'assert';
import { PartialThrottle } from '../../../src/llm/partial-throttle';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PartialThrottle', () => {
  it('sends "typing" and the first text at once, merges a burst of chunks into one partial with their joint delta', async () => {
    const got: [string, string][] = [];
    const th = new PartialThrottle({ intervalMs: 40, emit: (d, t) => got.push([d, t]) });
    th.push('', '');
    th.push('He', 'He');
    assert.deepStrictEqual(got, [['', ''], ['He', 'He']], 'typing and the first text are not held back');
    th.push('l', 'Hel');
    th.push('lo', 'Hello');
    th.push('!', 'Hello!');
    assert.strictEqual(got.length, 2, 'chunks inside the interval wait');
    await tick(70);
    assert.deepStrictEqual(got[2], ['llo!', 'Hello!']);
    assert.strictEqual(got.length, 3);
    assert.strictEqual(got.map(([d]) => d).join(''), 'Hello!', 'the deltas add up to the text');
  });

  it('when the reply starts over inside an interval (a retry), the merged delta is the new text only, not the dropped text too', async () => {
    const got: [string, string][] = [];
    const th = new PartialThrottle({ intervalMs: 40, emit: (d, t) => got.push([d, t]) });
    th.push('abc', 'abc'); // first text: at once
    th.push('d', 'abcd'); // held
    th.push('', ''); // the retried answer starts over
    th.push('xyz', 'xyz');
    await tick(70);
    assert.deepStrictEqual(got, [['abc', 'abc'], ['xyz', 'xyz']]);
  });

  it('a chunk after a quiet interval goes out at once', async () => {
    const got: string[] = [];
    const th = new PartialThrottle({ intervalMs: 20, emit: (_d, t) => got.push(t) });
    th.push('a', 'a');
    await tick(40);
    th.push('b', 'ab');
    assert.deepStrictEqual(got, ['a', 'ab']);
  });

  it('finish() drops what is pending: nothing arrives after the final reply', async () => {
    const got: string[] = [];
    const th = new PartialThrottle({ intervalMs: 30, emit: (_d, t) => got.push(t) });
    th.push('a', 'a');
    th.push('b', 'ab');
    th.finish();
    await tick(60);
    assert.deepStrictEqual(got, ['a']);
  });

  it('interval 0 passes every chunk through', () => {
    const got: string[] = [];
    const th = new PartialThrottle({ intervalMs: 0, emit: (_d, t) => got.push(t) });
    for (const t of ['a', 'ab', 'abc']) th.push(t.slice(-1), t);
    assert.deepStrictEqual(got, ['a', 'ab', 'abc']);
  });
});
