/**
 * Per-peer outbox: every change of a peer's conversation gets the next sequence number, so a
 * browser that reconnects says "I have seen up to seq N" and gets exactly what it missed.
 *
 * Entries are keyed by message id: a streamed reply is one entry whose text grows, and each
 * partial moves that entry to a new seq (a reconnecting browser gets the latest text once, not
 * every partial). The outbox is bounded (`limit` entries per peer, oldest dropped) and finished
 * entries are written to a {@link TranscriptStore}. Sequence numbers belong to an `epoch` (new
 * on every load): a browser whose epoch differs gets the whole history and redraws.
 */
import crypto from 'crypto';
import type { WebchatEvent } from './protocol';
import type { TranscriptStore } from './transcript';

export interface OutboxOptions {
  store: TranscriptStore;
  /** Entries kept per peer (memory and file). */
  limit?: number;
  /** Storage failures: reported, never thrown at the caller of record(). */
  onError?: (err: unknown, peerId: string) => void;
}

/** A change to record; seq and ts are filled in. */
export type EventUpdate = Omit<WebchatEvent, 'seq' | 'ts'> & { ts?: number };

/** What a (re)connecting browser gets. */
export interface Replay {
  epoch: string;
  reset: boolean;
  events: WebchatEvent[];
}

interface PeerLog {
  epoch: string;
  nextSeq: number;
  entries: WebchatEvent[];
  /** Lines in the file since the last compaction. */
  fileLines: number;
  /** Serialises storage writes of this peer. */
  chain: Promise<void>;
}

export class Outbox {
  private readonly peers = new Map<string, Promise<PeerLog>>();
  readonly limit: number;

  constructor(private readonly opts: OutboxOptions) {
    this.limit = Math.max(1, opts.limit ?? 200);
  }

  private peer(peerId: string): Promise<PeerLog> {
    let p = this.peers.get(peerId);
    if (!p) {
      p = this.opts.store.load(peerId).then(
        (stored) => this.fromStored(stored),
        (err) => {
          this.opts.onError?.(err, peerId);
          return this.fromStored([]);
        },
      );
      this.peers.set(peerId, p);
    }
    return p;
  }

  private fromStored(stored: WebchatEvent[]): PeerLog {
    // Later lines win for the same id; order by seq.
    const byId = new Map<string, WebchatEvent>();
    for (const e of stored) if (e && typeof e.id === 'string' && typeof e.seq === 'number') byId.set(e.id, e);
    const entries = [...byId.values()].sort((a, b) => a.seq - b.seq).slice(-this.limit);
    const maxSeq = entries.length ? entries[entries.length - 1].seq : 0;
    return {
      epoch: crypto.randomBytes(8).toString('hex'),
      nextSeq: maxSeq + 1,
      entries,
      fileLines: stored.length,
      chain: Promise.resolve(),
    };
  }

  /**
   * Record a new entry or a change of an existing one (same id) and return it with its seq.
   * Finished entries are queued for storage; {@link flush} waits for that.
   */
  async record(peerId: string, update: EventUpdate): Promise<WebchatEvent> {
    const log = await this.peer(peerId);
    // Ids are unique in entries. Search from the newest: each partial of a streamed reply
    // updates the newest entry, so it is found at once instead of after the whole history.
    let idx = log.entries.length - 1;
    while (idx >= 0 && log.entries[idx].id !== update.id) idx--;
    const prev = idx >= 0 ? log.entries[idx] : undefined;
    const event: WebchatEvent = { ...update, seq: log.nextSeq++, ts: update.ts ?? prev?.ts ?? Date.now() };
    if (idx >= 0) log.entries.splice(idx, 1);
    log.entries.push(event);
    let trimmed = false;
    if (log.entries.length > this.limit) {
      log.entries.splice(0, log.entries.length - this.limit);
      trimmed = true;
    }
    if (event.done) this.persist(peerId, log, event, trimmed);
    return event;
  }

  private persist(peerId: string, log: PeerLog, event: WebchatEvent, trimmed: boolean): void {
    const store = this.opts.store;
    log.chain = log.chain.then(async () => {
      try {
        if (trimmed && log.fileLines >= 2 * this.limit) {
          const keep = log.entries.filter((e) => e.done);
          await store.rewrite(peerId, keep);
          log.fileLines = keep.length;
        } else {
          await store.append(peerId, event);
          log.fileLines++;
        }
      } catch (err) {
        this.opts.onError?.(err, peerId);
      }
    });
  }

  /** The user message with this page-side id, if the outbox still has it (a resend after a drop). */
  async findByClientId(peerId: string, clientId: string): Promise<WebchatEvent | undefined> {
    const log = await this.peer(peerId);
    return log.entries.find((e) => e.role === 'user' && e.clientId === clientId);
  }

  /** What a browser that saw `lastSeq` of `epoch` has missed. */
  async since(peerId: string, epoch: string | undefined, lastSeq: number | undefined): Promise<Replay> {
    const log = await this.peer(peerId);
    const known = epoch === log.epoch && typeof lastSeq === 'number' && lastSeq < log.nextSeq;
    const events = known ? log.entries.filter((e) => e.seq > (lastSeq as number)) : log.entries.slice();
    return { epoch: log.epoch, reset: !known, events: events.map((e) => ({ ...e })) };
  }

  /** Wait until everything recorded so far is in the store. */
  async flush(): Promise<void> {
    const logs = await Promise.all(this.peers.values());
    await Promise.all(logs.map((l) => l.chain));
  }
}
