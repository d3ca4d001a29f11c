/**
 * Group context: group messages that did not mention the bot, attached by the route filter to
 * the next message that did. The model should see them as context, marked as such, in the
 * window of that turn only; they never enter the stored history as turns, because the bot
 * did not take part in them.
 */
import type { HistoryEntry } from './types';

/** The msg property the route filter fills (one place to change if it is renamed). */
export const GROUP_CONTEXT_PROPERTY = 'groupContext';

/** One unmentioned group message. */
export interface GroupMessage {
  senderId?: string;
  senderName?: string;
  text: string;
  ts?: number;
}

/** Most messages and characters kept: context is a hint, it must not crowd out the history. */
const MAX_MESSAGES = 50;
const MAX_CHARS = 4000;

/**
 * The group context of `msg`, cleaned (entries without text dropped, the newest
 * {@link MAX_MESSAGES} kept), or undefined when there is none. Never throws on odd input.
 */
export function groupContextOf(msg: Record<string, unknown> | null | undefined): GroupMessage[] | undefined {
  const raw = msg?.[GROUP_CONTEXT_PROPERTY];
  if (!Array.isArray(raw)) return undefined;
  const out: GroupMessage[] = [];
  for (const r of raw) {
    if (!r || typeof r !== 'object') continue;
    const e = r as Record<string, unknown>;
    if (typeof e.text !== 'string' || !e.text.trim()) continue;
    out.push({
      text: e.text,
      ...(typeof e.senderId === 'string' || typeof e.senderId === 'number' ? { senderId: String(e.senderId) } : {}),
      ...(typeof e.senderName === 'string' && e.senderName ? { senderName: e.senderName } : {}),
      ...(typeof e.ts === 'number' ? { ts: e.ts } : {}),
    });
  }
  return out.length ? out.slice(-MAX_MESSAGES) : undefined;
}

/**
 * The window entry for `ctx`: a user-role entry headed "[group messages since your last
 * reply]", one `Name: text` line per message, cut from the front to {@link MAX_CHARS}.
 */
export function groupContextEntry(ctx: GroupMessage[] | undefined): HistoryEntry | undefined {
  if (!ctx?.length) return undefined;
  let lines = ctx.map((m) => `${m.senderName || m.senderId || '?'}: ${m.text.replace(/\s*\n\s*/g, ' ')}`);
  while (lines.length > 1 && lines.join('\n').length > MAX_CHARS) lines = lines.slice(1);
  const body = lines.join('\n').slice(-MAX_CHARS);
  return { role: 'user', content: `[group messages since your last reply]\n${body}` };
}
