/**
 * History compaction: when a session's history no longer fits its window, the older entries
 * are folded into a summary and the window becomes [summary, last N turns verbatim, new turn].
 * Only the window is compacted; the transcript keeps every entry. The summary itself is
 * written by a caller-given function (an LLM call in the node), so this file knows no LLM.
 */
import { estimateTokens, historyWindow, type WindowOptions } from './window';
import type { HistoryEntry } from './types';

/**
 * Write a summary of `entries` (oldest first). `previous` is the summary they continue, to be
 * folded in. Rejects on failure; the gateway then truncates instead.
 */
export type Summarise = (entries: HistoryEntry[], opts: { previous?: string; signal: AbortSignal }) => Promise<string>;

export interface CompactionOptions {
  summarise: Summarise;
  /** User turns (a user message and what followed it) kept verbatim after the summary. Default 4. */
  keepTurns?: number;
  /** A summary that takes longer fails (and the turn goes on truncated). Default 60000. */
  timeoutMs?: number;
  /** Most entries handed to the summariser at once (the newest of them). Default 200. */
  maxEntries?: number;
}

/** A session's summary: it stands for the first `covers` history entries since reset `epoch`. */
export interface CompactionState {
  text: string;
  covers: number;
  epoch: number;
}

/** Marks the summary in the window; the model reads it as background, not as a question. */
export const SUMMARY_HEADER = '[summary of the earlier conversation]';

export function summaryEntry(text: string): HistoryEntry {
  return { role: 'user', content: `${SUMMARY_HEADER}\n${text}` };
}

/**
 * The entries of `history` (the newest part of `total` entries) not covered by a summary of
 * the first `covers` entries.
 */
export function uncovered(history: HistoryEntry[], total: number, covers: number): HistoryEntry[] {
  const first = total - history.length; // absolute index of history[0]
  return history.slice(Math.max(0, covers - first));
}

/** True if `history` + `current` (+ summary) do not fit the window whole. */
export function overBudget(history: HistoryEntry[], current: HistoryEntry[], summary: string | undefined, w: WindowOptions): boolean {
  const maxMessages = w.maxMessages ?? 40;
  const maxTokens = w.maxTokens ?? 8000;
  const all = [...(summary ? [summaryEntry(summary)] : []), ...history, ...current];
  if (all.length > maxMessages) return true;
  return all.reduce((n, e) => n + estimateTokens(e), 0) > maxTokens;
}

/**
 * How many of `entries` (oldest first) to fold so that the last `keepTurns` user turns stay:
 * the index of the `keepTurns`-th last user entry (0 if there are not that many).
 */
export function foldCount(entries: HistoryEntry[], keepTurns: number): number {
  let seen = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i].role !== 'user') continue;
    // A run of user entries (collect mode, several people) is one turn.
    if (i > 0 && entries[i - 1].role === 'user') continue;
    if (++seen >= keepTurns) return i;
  }
  return keepTurns <= 0 ? entries.length : 0;
}

/** The window: the summary first (if any), then what fits of `history`, then `current`. */
export function compactedWindow(summary: string | undefined, history: HistoryEntry[], current: HistoryEntry[], w: WindowOptions): HistoryEntry[] {
  if (!summary) return historyWindow(history, current, w);
  const s = summaryEntry(summary);
  const rest = historyWindow(history, current, {
    maxMessages: Math.max(1, (w.maxMessages ?? 40) - 1),
    maxTokens: Math.max(0, (w.maxTokens ?? 8000) - estimateTokens(s)),
  });
  return [s, ...rest];
}

/** Run `summarise` with the timeout; rejects with a clear error on timeout or an empty summary. */
export async function runSummarise(o: CompactionOptions, entries: HistoryEntry[], previous?: string): Promise<string> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new Error(`the summary took longer than ${Math.round(timeoutMs / 1000)} s`);
      ctl.abort(e);
      reject(e);
    }, timeoutMs);
  });
  try {
    const max = o.maxEntries ?? 200;
    const text = await Promise.race([
      Promise.resolve().then(() => o.summarise(entries.slice(-max), { ...(previous ? { previous } : {}), signal: ctl.signal })),
      timeout,
    ]);
    if (typeof text !== 'string' || !text.trim()) throw new Error('the summariser returned an empty summary');
    return text.trim();
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** The prompt the node's LLM summariser sends (kept here so every summariser says the same). */
export function summaryPrompt(entries: HistoryEntry[], previous?: string): string {
  const lines = entries.map((e) => `${e.role === 'user' ? e.name || 'User' : 'Assistant'}: ${e.content}`);
  return [
    'Summarise the conversation below for the assistant who continues it. Keep facts, names, numbers,',
    'decisions, open questions and what the user wants; drop greetings and small talk. Write at most',
    '200 words, in the language of the conversation, as plain sentences. Output only the summary.',
    ...(previous ? ['', 'Summary of what came before:', previous] : []),
    '',
    'Conversation:',
    ...lines,
  ].join('\n');
}
