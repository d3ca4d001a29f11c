import assert from 'assert';
import { htmlToPlain, markdownToHtml, render } from '../../../../src/channels/telegram/format';
import { parseTelegramHtml } from '../../../fakes/telegram-html';

describe('telegram format', () => {
  it('converts common Markdown to Telegram HTML', () => {
    assert.strictEqual(markdownToHtml('**b** *i* _i2_ ~~s~~ `c` [l](https://x.io/?a=1&b=2)'), '<b>b</b> <i>i</i> <i>i2</i> <s>s</s> <code>c</code> <a href="https://x.io/?a=1&amp;b=2">l</a>');
    assert.strictEqual(markdownToHtml('# Title\n- one\n> quoted'), '<b>Title</b>\n• one\n<blockquote>quoted</blockquote>');
    assert.strictEqual(markdownToHtml('```ts\nif (a < b && c) {}\n```'), '<pre><code class="language-ts">if (a &lt; b &amp;&amp; c) {}</code></pre>');
  });

  it('escapes everything outside constructs; snake_case and lone markers stay literal', () => {
    assert.strictEqual(markdownToHtml('a < b & c > d'), 'a &lt; b &amp; c &gt; d');
    assert.strictEqual(markdownToHtml('my_var_name and 2 * 3'), 'my_var_name and 2 * 3');
    assert.strictEqual(markdownToHtml('**unclosed bold'), '**unclosed bold');
  });

  it('always produces HTML that Telegram accepts, even for streamed fragments', () => {
    const samples = ['**half', '```py\nprint(1)', '[link](http', '<script>&', '*a **b* c**', '`a` <b>', '> q\n```\nx'];
    for (const s of samples) {
      const out = parseTelegramHtml(markdownToHtml(s));
      assert.ok('text' in out, `${JSON.stringify(s)} -> ${JSON.stringify(out)}`);
    }
  });

  it('plain fallbacks: html stripped and decoded, markdown as written', () => {
    assert.strictEqual(htmlToPlain('<b>a &lt; b</b> &amp; <i>c</i>&#33;'), 'a < b & c!');
    assert.deepStrictEqual(render('**x**', 'markdown'), { text: '<b>x</b>', parseMode: 'HTML', plainFallback: '**x**' });
    assert.deepStrictEqual(render('<b>x</b>', 'plain'), { text: '<b>x</b>', plainFallback: '<b>x</b>' });
  });
});
