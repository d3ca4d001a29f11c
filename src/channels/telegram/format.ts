/**
 * Reply text -> what Telegram's sendMessage takes. Three input formats:
 * - `plain`: sent without parse_mode, so nothing needs escaping and nothing can be rejected.
 * - `markdown`: the common Markdown an LLM writes, converted to Telegram's HTML subset. Every
 *   character outside a recognised construct is HTML-escaped, so stray `*`, `_`, `<` or `&`
 *   can never break the markup. Unclosed markers (a streamed draft) stay literal text.
 * - `html`: Telegram HTML written by the flow author, sent as is.
 * `plainFallback` is what to send when Telegram still rejects the markup.
 * See docs/decisions/0050-telegram-own-polling-loop.md (formatting).
 */
import type { ReplyFormat } from '../../envelope';

export interface Rendered {
  text: string;
  parseMode?: 'HTML';
  /** Text to retry with, without parse_mode, if Telegram cannot parse the markup. */
  plainFallback: string;
}

export function render(text: string, format: ReplyFormat = 'plain'): Rendered {
  if (format === 'markdown') return { text: markdownToHtml(text), parseMode: 'HTML', plainFallback: text };
  if (format === 'html') return { text, parseMode: 'HTML', plainFallback: htmlToPlain(text) };
  return { text, plainFallback: text };
}

/** Escape text for Telegram HTML (the three characters it requires). */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(s: string): string {
  return escapeHtml(s).replace(/"/g, '&quot;');
}

/** Telegram HTML -> the text a reader would see (tags dropped, entities decoded). */
export function htmlToPlain(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot);/gi, (_, e: string) => {
      const k = e.toLowerCase();
      if (k === 'lt') return '<';
      if (k === 'gt') return '>';
      if (k === 'amp') return '&';
      if (k === 'quot') return '"';
      const n = k.startsWith('#x') ? parseInt(k.slice(2), 16) : parseInt(k.slice(1), 10);
      return Number.isFinite(n) && n <= 0x10ffff ? String.fromCodePoint(n) : '';
    });
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;

/** Common Markdown -> Telegram HTML. Block level: fences, headings, quotes, bullets. */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.split('\n');
  let quote: string[] = [];
  const flushQuote = () => {
    if (quote.length) out.push(`<blockquote>${quote.join('\n')}</blockquote>`);
    quote = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flushQuote();
      const marker = fence[1];
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !(lines[j].trim().startsWith(marker) && lines[j].trim().replace(/[`~]/g, '') === '')) body.push(lines[j++]);
      const lang = fence[2] ? ` class="language-${escapeAttr(fence[2])}"` : '';
      out.push(`<pre><code${lang}>${escapeHtml(body.join('\n'))}</code></pre>`);
      i = j; // skip the closing fence (or run to the end if a streamed draft has none yet)
      continue;
    }
    const q = /^ {0,3}> ?(.*)$/.exec(line);
    if (q) {
      quote.push(inline(q[1]));
      continue;
    }
    flushQuote();
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      out.push(`<b>${inline(h[1])}</b>`);
      continue;
    }
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    if (bullet) {
      out.push(`${bullet[1]}• ${inline(bullet[2])}`);
      continue;
    }
    out.push(inline(line));
  }
  flushQuote();
  return out.join('\n');
}

// One alternative per inline construct; the first that matches at the earliest place wins.
const INLINE = new RegExp(
  [
    '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)', // 1,2 code
    '\\*\\*([^\\s*](?:[\\s\\S]*?[^\\s*])?)\\*\\*', // 3 bold
    '__([^\\s_](?:[\\s\\S]*?[^\\s_])?)__', // 4 bold
    '~~([^\\s~](?:[\\s\\S]*?[^\\s~])?)~~', // 5 strike
    '\\[([^\\]\\n]+)\\]\\(((?:https?|tg|mailto):[^)\\s]+)\\)', // 6,7 link
    '\\*([^\\s*](?:[^*\\n]*?[^\\s*])?)\\*', // 8 italic
    '(?<![\\p{L}\\p{N}_])_([^\\s_](?:[^_\\n]*?[^\\s_])?)_(?![\\p{L}\\p{N}_])', // 9 italic
  ].join('|'),
  'gu',
);

function inline(s: string): string {
  let out = '';
  let last = 0;
  const re = new RegExp(INLINE.source, INLINE.flags);
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out += escapeHtml(s.slice(last, m.index));
    if (m[2] !== undefined) out += `<code>${escapeHtml(m[2])}</code>`;
    else if (m[3] !== undefined || m[4] !== undefined) out += `<b>${inline(m[3] ?? m[4])}</b>`;
    else if (m[5] !== undefined) out += `<s>${inline(m[5])}</s>`;
    else if (m[6] !== undefined) out += `<a href="${escapeAttr(m[7])}">${inline(m[6])}</a>`;
    else out += `<i>${inline(m[8] ?? m[9])}</i>`;
    last = m.index + m[0].length;
  }
  return out + escapeHtml(s.slice(last));
}
