/**
 * The one text splitter for every channel-out node.
 *
 * Platforms cap a message's length (Telegram 4096 UTF-16 units, Discord 2000 characters).
 * A long reply is cut where a reader expects a break: paragraph, then line, then sentence,
 * then word, and only as a last resort mid-word. A fenced code block is never cut unless it
 * alone exceeds the limit; then it is closed at the end of a part and re-opened (with its
 * language) at the start of the next, so every part renders as code.
 */

/** How a platform counts length: UTF-16 code units (Telegram) or code points (Discord). */
export type LengthUnit = 'utf16' | 'codepoint';

export interface SplitOptions {
  /** Maximum length of one part, in `unit`s. */
  limit: number;
  unit?: LengthUnit;
}

/** Length of `s` as the platform counts it. */
export function measure(s: string, unit: LengthUnit = 'utf16'): number {
  if (unit === 'utf16') return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Largest UTF-16 index i with measure(s[0..i]) <= units, never inside a surrogate pair. */
function indexForUnits(s: string, units: number, unit: LengthUnit): number {
  if (unit === 'utf16') {
    let i = Math.min(units, s.length);
    if (i > 0 && i < s.length && isHighSurrogate(s.charCodeAt(i - 1))) i--;
    return i;
  }
  let count = 0;
  let i = 0;
  while (i < s.length && count < units) {
    i += isHighSurrogate(s.charCodeAt(i)) && i + 1 < s.length ? 2 : 1;
    count++;
  }
  return i;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

interface Fence {
  /** Index of the first character of the opening fence line. */
  start: number;
  /** Index just past the closing fence line (or the text's end if never closed). */
  end: number;
  /** The opening line, e.g. "```ts". */
  open: string;
  /** The fence characters, e.g. "```". */
  marker: string;
}

const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** Fenced code blocks of `s` (CommonMark style: ``` or ~~~, closed by the same marker). */
function findFences(s: string): Fence[] {
  const fences: Fence[] = [];
  let open: { start: number; line: string; marker: string } | undefined;
  let pos = 0;
  for (const line of s.split('\n')) {
    const m = FENCE_LINE.exec(line);
    if (m) {
      if (!open) {
        open = { start: pos, line: line.trim(), marker: m[1] };
      } else if (m[1][0] === open.marker[0] && m[1].length >= open.marker.length && !m[2].trim()) {
        fences.push({ start: open.start, end: pos + line.length, open: open.line, marker: open.marker });
        open = undefined;
      }
    }
    pos += line.length + 1;
  }
  if (open) fences.push({ start: open.start, end: s.length, open: open.line, marker: open.marker });
  return fences;
}

/** The best place to cut `s` at or before `max`; 0 if there is none worth taking. */
function bestCut(s: string, max: number): number {
  const window = s.slice(0, max);
  // A boundary too close to the start would make a tiny part; demand a fifth of the room.
  const floor = Math.floor(max / 5);
  const para = window.lastIndexOf('\n\n');
  if (para > floor) return para;
  const line = window.lastIndexOf('\n');
  if (line > floor) return line;
  let sentence = -1;
  const re = /[.!?。！？](?=\s)/g;
  for (let m = re.exec(window); m; m = re.exec(window)) sentence = m.index + 1;
  if (sentence > floor) return sentence;
  const space = window.lastIndexOf(' ');
  if (space > floor) return space;
  return 0;
}

/**
 * Split `text` into parts no longer than `limit` (as the platform counts), in order.
 * Empty or whitespace-only text gives no parts.
 */
export function splitMessage(text: string, options: SplitOptions): string[] {
  const unit = options.unit ?? 'utf16';
  const limit = Math.floor(options.limit);
  if (!(limit >= 16)) throw new RangeError(`splitMessage: limit must be at least 16, got ${options.limit}`);
  const parts: string[] = [];
  let body = text.replace(/\s+$/, '');
  while (body.trim()) {
    if (measure(body, unit) <= limit) {
      parts.push(body);
      break;
    }
    const max = indexForUnits(body, limit, unit);
    let cut = bestCut(body, max) || max;
    const fence = findFences(body).find((f) => f.start < cut && cut < f.end);
    if (fence && fence.start > 0 && body.slice(0, fence.start).trim()) {
      // Keep the whole block for the next part: cut just before it opens.
      cut = fence.start;
    } else if (fence && indexForUnits(body, limit - fence.marker.length - 1, unit) > fence.start + fence.open.length + 2) {
      // The block alone is too long: close it here, re-open it in the next part.
      const closing = '\n' + fence.marker;
      const room = indexForUnits(body, limit - measure(closing, unit), unit);
      const openEnd = fence.start + fence.open.length + 1;
      const nl = body.lastIndexOf('\n', room);
      const at = nl > openEnd ? nl : Math.max(room, openEnd + 1);
      parts.push(body.slice(0, at).replace(/\s+$/, '') + closing);
      body = fence.open + '\n' + body.slice(at).replace(/^\n/, '');
      continue;
    }
    parts.push(body.slice(0, cut).replace(/\s+$/, ''));
    body = body.slice(cut).replace(/^[ \t]*\n+|^ /, '');
  }
  return parts.filter((p) => p.trim().length > 0);
}
