import assert from 'assert';
// The page's own renderer (plain JS, shipped in public/webchat); its parse step is pure.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const md = require('../../../../public/webchat/markdown.js');

describe('webchat page markdown', function () {
  it('parses paragraphs, emphasis, code, links and lists', function () {
    const blocks = md.parse('Hi **bold** *it* `x<y>` [site](https://e.com)\n\n- a\n- b\n\n1. one\n\n```js\nlet a = "<b>";\n```');
    assert.deepStrictEqual(blocks.map((b: any) => b.type), ['p', 'ul', 'ol', 'code']);
    assert.deepStrictEqual(blocks[0].c.map((n: any) => n.t), ['text', 'b', 'text', 'i', 'text', 'code', 'text', 'a']);
    assert.strictEqual(blocks[0].c[7].href, 'https://e.com');
    assert.deepStrictEqual(blocks[3], { type: 'code', lang: 'js', v: 'let a = "<b>";' });
  });

  it('keeps only http and https links', function () {
    const c = md.parseInline('[x](javascript:alert(1)) [y](data:text/html,hi) [z](http://ok.test)');
    assert.deepStrictEqual(c.filter((n: any) => n.t === 'a').map((n: any) => n.href), ['http://ok.test']);
    assert.strictEqual(md.safeUrl('JAVASCRIPT:alert(1)'), false);
  });

  it('leaves unfinished markup of a streaming reply as text', function () {
    assert.deepStrictEqual(md.parseInline('Once upon a **ti'), [{ t: 'text', v: 'Once upon a **ti' }]);
    assert.deepStrictEqual(md.parse('```py\nprint(1)').slice(-1), [{ type: 'code', lang: 'py', v: 'print(1)' }]);
  });

  it('does not read snake_case or __dunder__ inside words as emphasis', function () {
    assert.deepStrictEqual(md.parseInline('my_var_name and window.__xss = 1'), [{ t: 'text', v: 'my_var_name and window.__xss = 1' }]);
  });
});
