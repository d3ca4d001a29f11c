/**
 * Group context: the chatter of a group that did not mention the bot, kept so the model can
 * see it with the next message that does ("what do you think of what Ann just said?").
 *
 * Kept in memory only, per group (channel, bot account, chat and thread): it is a hint for
 * the next turn, not history, and losing it on a restart costs nothing. Every bound is
 * explicit so a busy group cannot grow memory: entries per group, characters per entry, age,
 * and the number of groups tracked (the least recently active group is dropped first).
 * Nothing runs on a timer: expired entries are dropped when a group is read or written, and
 * stale groups are swept while adding, so the node has nothing to clear on close.
 */
import type { ChatEnvelope } from '../envelope';
import type { GroupContextEntry } from './types';

export interface GroupContextOptions {
  /** Messages kept per group; 0 turns group context off. */
  maxMessages: number;
  /** Entries older than this (ms since they arrived) are forgotten. */
  maxAgeMs: number;
  /** Groups tracked at once; the least recently active one is dropped beyond it. */
  maxGroups?: number;
  /** Characters kept of one message (the rest is cut and marked with an ellipsis). */
  maxChars?: number;
}

interface Kept extends GroupContextEntry {
  /** When it arrived, by the filter's clock (expiry does not trust platform timestamps). */
  at: number;
}

const DEFAULT_MAX_GROUPS = 1000;
const DEFAULT_MAX_CHARS = 2000;

/** The key of one conversation space: a Telegram forum topic or a Discord thread is its own. */
export function groupKey(chat: Pick<ChatEnvelope, 'channel' | 'account' | 'chatId' | 'threadId'>): string {
  return `${chat.channel}:${chat.account}:${chat.chatId}${chat.threadId ? `:${chat.threadId}` : ''}`;
}

export class GroupContextBuffer {
  private readonly groups = new Map<string, Kept[]>();
  private readonly maxGroups: number;
  private readonly maxChars: number;
  private nextSweep = 0;

  constructor(private readonly opts: GroupContextOptions) {
    this.maxGroups = opts.maxGroups ?? DEFAULT_MAX_GROUPS;
    this.maxChars = opts.maxChars ?? DEFAULT_MAX_CHARS;
  }

  get enabled(): boolean {
    return this.opts.maxMessages > 0;
  }

  /** Keep one unmentioned message. Messages without text (a bare sticker) carry nothing to read. */
  add(chat: ChatEnvelope, now: number): void {
    if (!this.enabled) return;
    const text = chat.text.trim();
    if (!text) return;
    this.sweep(now);
    const key = groupKey(chat);
    const list = this.fresh(key, now) ?? [];
    list.push({
      senderId: chat.senderId,
      ...(chat.senderName ? { senderName: chat.senderName } : {}),
      text: text.length > this.maxChars ? `${text.slice(0, this.maxChars)}…` : text,
      ts: typeof chat.timestamp === 'number' ? chat.timestamp : now,
      at: now,
    });
    if (list.length > this.opts.maxMessages) list.splice(0, list.length - this.opts.maxMessages);
    // Re-insert so Map order is "least recently active first" for eviction.
    this.groups.delete(key);
    this.groups.set(key, list);
    while (this.groups.size > this.maxGroups) {
      const oldest = this.groups.keys().next().value as string;
      this.groups.delete(oldest);
    }
  }

  /** The kept messages of `chat`'s group, oldest first, and forget them (they are used once). */
  take(chat: ChatEnvelope, now: number): GroupContextEntry[] {
    const key = groupKey(chat);
    const list = this.fresh(key, now);
    this.groups.delete(key);
    return (list ?? []).map(({ at: _at, ...entry }) => entry);
  }

  /** Messages currently kept for `chat`'s group (tests, status). */
  size(chat: ChatEnvelope, now: number): number {
    return this.fresh(groupKey(chat), now)?.length ?? 0;
  }

  /** Groups with kept messages (tests check memory stays bounded). */
  get trackedGroups(): number {
    return this.groups.size;
  }

  /** The group's list without expired entries, or undefined when nothing is left. */
  private fresh(key: string, now: number): Kept[] | undefined {
    const list = this.groups.get(key);
    if (!list) return undefined;
    const firstLive = list.findIndex((e) => now - e.at < this.opts.maxAgeMs);
    if (firstLive === -1) {
      this.groups.delete(key);
      return undefined;
    }
    if (firstLive > 0) list.splice(0, firstLive);
    return list;
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.opts.maxAgeMs;
    for (const key of [...this.groups.keys()]) this.fresh(key, now);
  }
}
