import assert from 'assert';
import { splitMessage, measure } from '../../../src/channels/split';

function para(n: number, word = 'lorem'): string {
  return Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ') + '.';
}

describe('splitMessage', () => {
  it('returns one part for short text and none for blank text', () => {
    assert.deepStrictEqual(splitMessage('hello', { limit: 100 }), ['hello']);
    assert.deepStrictEqual(splitMessage('  \n ', { limit: 100 }), []);
  });

  it('keeps every part under the limit and loses no words', () => {
    const text = [para(300), para(250), para(400)].join('\n\n');
    for (const limit of [2000, 4096, 500]) {
      const parts = splitMessage(text, { limit });
      assert.ok(parts.length > 1);
      for (const p of parts) assert.ok(p.length <= limit, `part of ${p.length} > ${limit}`);
      assert.strictEqual(parts.join(' ').split(/\s+/).join(' '), text.split(/\s+/).join(' '));
    }
  });

  it('prefers paragraph, then line, then sentence boundaries', () => {
    const a = 'a'.repeat(60);
    assert.deepStrictEqual(splitMessage(`${a}\n\n${a}`, { limit: 100 }), [a, a]);
    assert.deepStrictEqual(splitMessage(`${a}\n${a}`, { limit: 100 }), [a, a]);
    const s1 = 'This is the first sentence of the text here.';
    const s2 = 'And this is a second one that goes on and on and on.';
    assert.deepStrictEqual(splitMessage(`${s1} ${s2}`, { limit: 60 }), [s1, s2]);
  });

  it('never cuts inside a code block that fits a part of its own', () => {
    const code = '```js\n' + Array.from({ length: 20 }, (_, i) => `const v${i} = ${i};`).join('\n') + '\n```';
    const text = `${para(30)}\n${code}\n${para(10)}`;
    const parts = splitMessage(text, { limit: 450 });
    const withCode = parts.filter((p) => p.includes('const v0'));
    assert.strictEqual(withCode.length, 1);
    assert.ok(withCode[0].includes(code), 'the whole block stays together');
  });

  it('closes and re-opens a code block that alone exceeds the limit', () => {
    const lines = Array.from({ length: 300 }, (_, i) => `print("line ${i}")`);
    const text = 'Here is the script:\n```python\n' + lines.join('\n') + '\n```\nDone.';
    const parts = splitMessage(text, { limit: 2000 });
    assert.ok(parts.length >= 3);
    for (const p of parts) {
      assert.ok(p.length <= 2000);
      const fences = p.split('\n').filter((l) => l.startsWith('```')).length;
      assert.strictEqual(fences % 2, 0, `unbalanced fences in a part:\n${p.slice(0, 80)}`);
    }
    assert.ok(parts.slice(1, -1).every((p) => p.startsWith('```python\n')), 'continuations re-open with the language');
    const all = parts.join('\n');
    for (const l of lines) assert.ok(all.includes(l), `lost ${l}`);
  });

  it('counts code points for Discord and UTF-16 units for Telegram', () => {
    const emoji = '😀'.repeat(1500); // 1500 code points, 3000 UTF-16 units
    assert.strictEqual(splitMessage(emoji, { limit: 2000, unit: 'codepoint' }).length, 1);
    const tg = splitMessage(emoji, { limit: 2000, unit: 'utf16' });
    assert.strictEqual(tg.length, 2);
    for (const p of tg) {
      assert.ok(p.length <= 2000);
      assert.ok(!/[\ud800-\udbff]$/.test(p), 'no surrogate pair cut in half');
    }
    assert.strictEqual(tg.join(''), emoji);
    assert.strictEqual(measure('😀', 'codepoint'), 1);
  });

  it('hard-cuts a word longer than the limit', () => {
    const parts = splitMessage('x'.repeat(250), { limit: 100 });
    assert.deepStrictEqual(parts.map((p) => p.length), [100, 100, 50]);
  });

  it('rejects a nonsensical limit', () => {
    assert.throws(() => splitMessage('abc', { limit: 0 }), /limit/);
  });
});
