/**
 * The history window handed to the LLM: the newest entries that fit both a message count and
 * an approximate token budget. The full history stays in the store; only the window travels
 * on msg. Tokens are estimated (4 characters per token plus a small per-message overhead),
 * which is close enough for English and errs on the safe side for most other languages' text
 * in UTF-16 length terms; a window is a budget guard, not a tokenizer.
 */
import type { HistoryEntry } from './types';

export interface WindowOptions {
  /** Most entries in the window, the new user turn included. Default 40. */
  maxMessages?: number;
  /** Approximate token budget of the window. Default 8000. */
  maxTokens?: number;
}

const PER_MESSAGE = 4;

/** Rough token count of one entry. */
export function estimateTokens(e: Pick<HistoryEntry, 'content' | 'name'>): number {
  return Math.ceil((e.content.length + (e.name?.length ?? 0)) / 4) + PER_MESSAGE;
}

/**
 * `history` (oldest first) trimmed from the front, then `current` (the turn's new user
 * entries) appended. The current entries are always kept whole, even beyond the budget: the
 * LLM must see what it is answering.
 */
export function historyWindow(history: HistoryEntry[], current: HistoryEntry[], opts: WindowOptions = {}): HistoryEntry[] {
  const maxMessages = opts.maxMessages ?? 40;
  const maxTokens = opts.maxTokens ?? 8000;
  let tokens = current.reduce((n, e) => n + estimateTokens(e), 0);
  let room = Math.max(0, maxMessages - current.length);
  let start = history.length;
  while (start > 0 && room > 0) {
    const t = estimateTokens(history[start - 1]);
    if (tokens + t > maxTokens) break;
    tokens += t;
    room--;
    start--;
  }
  // Do not open the window on an assistant entry: the first message is then a reply to
  // something the LLM cannot see. Providers also prefer a user message first.
  while (start < history.length && history[start].role === 'assistant') start++;
  return [...history.slice(start), ...current];
}
