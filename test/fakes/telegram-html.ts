/**
 * The fake Bot API's check of `parse_mode: "HTML"` text, following Telegram's documented
 * rules: only the supported tags, properly nested, and every `<`, `>`, `&` that is not part of
 * a tag or a named/numeric entity rejected. Returns the visible text (what length limits count)
 * or the error description Telegram would answer with.
 */
const TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'a', 'code', 'pre', 'span', 'tg-spoiler', 'tg-emoji', 'blockquote']);

export function parseTelegramHtml(html: string): { text: string } | { error: string } {
  const stack: string[] = [];
  let text = '';
  let i = 0;
  const bad = (why: string) => ({ error: `Bad Request: can't parse entities: ${why} at byte offset ${Buffer.byteLength(html.slice(0, i))}` });
  while (i < html.length) {
    const c = html[i];
    if (c === '<') {
      const end = html.indexOf('>', i);
      if (end < 0) return bad('Unclosed start tag');
      const inner = html.slice(i + 1, end);
      const close = inner.startsWith('/');
      const name = (close ? inner.slice(1) : inner).trim().split(/\s/)[0].toLowerCase();
      if (!TAGS.has(name)) return bad(`Unsupported start tag "${name}"`);
      if (close) {
        if (stack.pop() !== name) return bad(`Unmatched end tag "${name}"`);
      } else {
        stack.push(name);
      }
      i = end + 1;
    } else if (c === '>') {
      return bad('Unexpected end of name token');
    } else if (c === '&') {
      const m = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/.exec(html.slice(i));
      if (!m) return bad('Character entity expected');
      const e = m[1];
      text += e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
      i += m[0].length;
    } else {
      text += c;
      i++;
    }
  }
  if (stack.length) return { error: `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${stack[stack.length - 1]}"` };
  return { text };
}
