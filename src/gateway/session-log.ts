/**
 * One session's state as a fold over its events. The memory store applies events directly;
 * the file store writes each event as one JSON line first and applies it after, and on start
 * replays the file through the same `apply`. One code path for both means what the file store
 * recovers is exactly what the memory store would have held.
 */
import { SEEN_PLATFORM_IDS, type HistoryEntry, type QueuedMessage, type SessionInfo, type SessionRecord, type TurnStatus } from './types';
import type { CompactionState } from './compaction';

/** A line of a session transcript. */
export type SessionEvent =
  | { t: 'open'; key: string; info: SessionInfo; ts: number }
  | { t: 'enq'; msg: QueuedMessage }
  | { t: 'start'; turnId: string; fence: number; ids: string[]; ts: number }
  | {
      t: 'end';
      turnId: string;
      fence: number;
      status: TurnStatus;
      reply?: string;
      context?: Record<string, unknown>;
      /** Waiting messages the turn took in (steer mode), committed after its own. */
      absorbed?: string[];
      ts: number;
    }
  | { t: 'reset'; fence: number; ts: number }
  /** A summary now stands for the first `covers` entries since reset number `epoch`. */
  | { t: 'compact'; epoch: number; covers: number; summary: string; ts: number };

interface RunningTurn {
  turnId: string;
  fence: number;
  items: QueuedMessage[];
}

export class SessionLog {
  info: SessionInfo;
  createdAt: number;
  updatedAt: number;
  /** History since the last reset; the oldest entries beyond `keep` are dropped from memory. */
  history: HistoryEntry[] = [];
  context: Record<string, unknown> = {};
  pending: QueuedMessage[] = [];
  running: RunningTurn | undefined;
  fence = 0;
  /** History entries since the last reset (also those dropped from memory). */
  total = 0;
  /** Resets so far: a compaction made before a reset must not apply after it. */
  epoch = 0;
  summary: CompactionState | undefined;
  /** Platform ids of the latest accepted messages, oldest first (rebuilt by the replay). */
  private readonly seen = new Set<string>();

  constructor(
    readonly key: string,
    info: SessionInfo,
    ts: number,
    private readonly keep = Infinity,
  ) {
    this.info = info;
    this.createdAt = ts;
    this.updatedAt = ts;
  }

  apply(ev: SessionEvent): void {
    switch (ev.t) {
      case 'open':
        this.info = ev.info;
        this.createdAt = ev.ts;
        this.updatedAt = ev.ts;
        return;
      case 'enq':
        this.pending.push(ev.msg);
        if (ev.msg.platformId) this.remember(ev.msg.platformId);
        this.updatedAt = Math.max(this.updatedAt, ev.msg.ts);
        return;
      case 'start': {
        // A start while another turn is open only happens in a replay after a crash: the
        // earlier turn never ended and its messages went back to the queue before this claim.
        this.requeueRunning();
        const ids = new Set(ev.ids);
        const items = this.pending.filter((m) => ids.has(m.id));
        this.pending = this.pending.filter((m) => !ids.has(m.id));
        this.running = { turnId: ev.turnId, fence: ev.fence, items };
        this.fence = Math.max(this.fence, ev.fence);
        this.updatedAt = Math.max(this.updatedAt, ev.ts);
        return;
      }
      case 'end': {
        const r = this.running;
        if (!r || r.turnId !== ev.turnId || r.fence !== ev.fence) return;
        const absorbed = new Set(ev.absorbed ?? []);
        const taken = absorbed.size ? this.pending.filter((m) => absorbed.has(m.id)) : [];
        if (taken.length) this.pending = this.pending.filter((m) => !absorbed.has(m.id));
        for (const m of [...r.items, ...taken]) this.push({ role: 'user', content: m.text, ...(m.name ? { name: m.name } : {}), ts: m.ts });
        if (ev.status === 'done' && ev.reply) this.push({ role: 'assistant', content: ev.reply, ts: ev.ts });
        if (ev.context) this.context = ev.context;
        this.running = undefined;
        this.updatedAt = Math.max(this.updatedAt, ev.ts);
        return;
      }
      case 'reset':
        this.history = [];
        this.total = 0;
        this.epoch++;
        this.summary = undefined;
        this.context = {};
        this.running = undefined;
        this.fence = Math.max(this.fence, ev.fence);
        this.updatedAt = Math.max(this.updatedAt, ev.ts);
        return;
      case 'compact':
        // Stale (made before a reset) or behind a newer summary: nothing to do.
        if (ev.epoch !== this.epoch || ev.covers > this.total || ev.covers <= (this.summary?.covers ?? 0)) return;
        this.summary = { text: ev.summary, covers: ev.covers, epoch: ev.epoch };
        return;
    }
  }

  /** Whether a message with this platform id was accepted here lately (a re-delivery). */
  hasSeen(platformId: string | undefined): boolean {
    return !!platformId && this.seen.has(platformId);
  }

  private remember(platformId: string): void {
    this.seen.add(platformId);
    if (this.seen.size > SEEN_PLATFORM_IDS) this.seen.delete(this.seen.values().next().value as string);
  }

  /** Put the running turn's messages back at the head of the queue (it will run again). */
  requeueRunning(): boolean {
    if (!this.running) return false;
    this.pending = [...this.running.items, ...this.pending];
    this.running = undefined;
    return true;
  }

  /** True if `turnId`/`fence` name the running turn. */
  isRunning(turnId: string, fence: number): boolean {
    return !!this.running && this.running.turnId === turnId && this.running.fence === fence;
  }

  record(): SessionRecord {
    return {
      key: this.key,
      info: this.info,
      state: this.running ? 'processing' : this.pending.length ? 'waiting' : 'idle',
      context: structuredClone(this.context),
      waiting: this.pending.length,
      ...(this.running ? { turnId: this.running.turnId } : {}),
      fence: this.fence,
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
      historyCount: this.total,
      epoch: this.epoch,
      ...(this.summary ? { summary: { ...this.summary } } : {}),
    };
  }

  private push(e: HistoryEntry): void {
    this.history.push(e);
    this.total++;
    if (this.history.length > this.keep) this.history.splice(0, this.history.length - this.keep);
  }
}

/** The session fields of an envelope. */
export function sessionInfoOf(chat: QueuedMessage['chat']): SessionInfo {
  return {
    channel: chat.channel,
    account: chat.account,
    chatId: chat.chatId,
    chatType: chat.chatType,
    ...(chat.threadId ? { threadId: chat.threadId } : {}),
    ...(chat.groupId ? { groupId: chat.groupId } : {}),
    ...(chat.chatType === 'direct' ? { senderId: chat.senderId } : {}),
  };
}
