/**
 * Per-sender budgets and token usage: daily message and token counters per peer and per
 * group, and running token totals per session. The counters live in the session store's
 * family (a {@link UsageLedger}), so they hold across restarts (file store) and across
 * instances (Redis store).
 */
import type { ChatEnvelope } from '../envelope';
import type { KeyValueStore } from '../store/kv';

export interface UsageTotals {
  messages: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
}

export interface UsageDelta {
  messages?: number;
  inputTokens?: number;
  outputTokens?: number;
}

/**
 * Counters by subject and period. Implementations make `add` and `once` atomic per
 * (subject, period): a Redis store would use one hash per period (`HINCRBY`, `HSETNX`, with
 * an `EXPIRE` of two days on daily periods); the memory and file stores use
 * {@link KvUsageLedger}.
 */
export interface UsageLedger {
  /** Add `delta` and return the totals after. */
  add(subject: string, period: string, delta: UsageDelta): Promise<UsageTotals>;
  get(subject: string, period: string): Promise<UsageTotals>;
  /** Set `flag` for (subject, period); true only for the one call that set it. */
  once(subject: string, period: string, flag: string): Promise<boolean>;
}

/** The period that never rolls over (session totals). */
export const ALL_TIME = 'all';

const ZERO: UsageTotals = { messages: 0, tokens: 0, inputTokens: 0, outputTokens: 0 };

interface Row extends UsageTotals {
  flags?: string[];
}

/**
 * A ledger over a {@link KeyValueStore} (one key per subject and period), serialised in this
 * process. Daily rows of earlier days are pruned on the first write of a new day.
 */
export class KvUsageLedger implements UsageLedger {
  private chain: Promise<unknown> = Promise.resolve();
  private prunedFor = '';

  constructor(private readonly kv: KeyValueStore) {}

  add(subject: string, period: string, delta: UsageDelta): Promise<UsageTotals> {
    return this.serial(async () => {
      await this.prune(period);
      const row = await this.row(subject, period);
      row.messages += delta.messages ?? 0;
      row.inputTokens += delta.inputTokens ?? 0;
      row.outputTokens += delta.outputTokens ?? 0;
      row.tokens = row.inputTokens + row.outputTokens;
      await this.kv.set(keyOf(subject, period), row);
      return totals(row);
    });
  }

  get(subject: string, period: string): Promise<UsageTotals> {
    return this.serial(async () => totals(await this.row(subject, period)));
  }

  once(subject: string, period: string, flag: string): Promise<boolean> {
    return this.serial(async () => {
      const row = await this.row(subject, period);
      if (row.flags?.includes(flag)) return false;
      row.flags = [...(row.flags ?? []), flag];
      await this.kv.set(keyOf(subject, period), row);
      return true;
    });
  }

  private async row(subject: string, period: string): Promise<Row> {
    const r = await this.kv.get<Row>(keyOf(subject, period));
    return { ...ZERO, ...(r ?? {}) };
  }

  private async prune(period: string): Promise<void> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(period) || this.prunedFor === period) return;
    this.prunedFor = period;
    for (const k of await this.kv.keys('')) {
      const p = k.slice(0, k.indexOf('|'));
      if (/^\d{4}-\d{2}-\d{2}$/.test(p) && p < period) await this.kv.delete(k);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

function keyOf(subject: string, period: string): string {
  return `${period}|${subject}`;
}

function totals(r: Row): UsageTotals {
  return { messages: r.messages, tokens: r.tokens, inputTokens: r.inputTokens, outputTokens: r.outputTokens };
}

/** The UTC day of `ts` (`YYYY-MM-DD`): budgets roll over at midnight UTC. */
export function dayOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/** Limits per day; absent or 0 means no limit. */
export interface BudgetLimits {
  peerMessages?: number;
  peerTokens?: number;
  groupMessages?: number;
  groupTokens?: number;
}

export function hasBudgets(l: BudgetLimits | undefined): boolean {
  return !!l && !!(l.peerMessages || l.peerTokens || l.groupMessages || l.groupTokens);
}

/** Who a message is counted against: its sender (or the linked person) and, in groups, the group. */
export interface BudgetSubjects {
  peer: string;
  group?: string;
}

export function budgetSubjects(chat: ChatEnvelope, person?: string): BudgetSubjects {
  return {
    peer: person ? `person:${person}` : `peer:${chat.channel}:${chat.senderId}`,
    ...(chat.chatType === 'group' ? { group: `group:${chat.channel}:${chat.account}:${chat.chatId}` } : {}),
  };
}

export type BudgetCheck = { ok: true } | { ok: false; subject: string; limit: 'messages' | 'tokens' };

/** Whether one more message from `s` fits today's limits. */
export async function checkBudget(ledger: UsageLedger, s: BudgetSubjects, l: BudgetLimits, day: string): Promise<BudgetCheck> {
  const over = (u: UsageTotals, msgs?: number, toks?: number): 'messages' | 'tokens' | undefined =>
    msgs && u.messages >= msgs ? 'messages' : toks && u.tokens >= toks ? 'tokens' : undefined;
  if (l.peerMessages || l.peerTokens) {
    const o = over(await ledger.get(s.peer, day), l.peerMessages, l.peerTokens);
    if (o) return { ok: false, subject: s.peer, limit: o };
  }
  if (s.group && (l.groupMessages || l.groupTokens)) {
    const o = over(await ledger.get(s.group, day), l.groupMessages, l.groupTokens);
    if (o) return { ok: false, subject: s.group, limit: o };
  }
  return { ok: true };
}
