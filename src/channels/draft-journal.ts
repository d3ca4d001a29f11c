/**
 * Remembers which streamed drafts are still unfinished, so a process killed mid-stream (kill -9,
 * a power cut: no close handler runs) can delete them when it comes back. Without it the chat
 * keeps a half-written "Sure, the first step is …" next to the full answer the redelivered turn
 * sends afresh. A redeploy does not need this: StreamRelay.abandon deletes drafts on close.
 *
 * Platform-neutral: entries name a chat and a message by the platform's ids; the channel-out
 * node that owns the journal supplies the delete call when it sweeps.
 */
import crypto from 'crypto';
import { setTimeout as delay } from 'timers/promises';
import type { KeyValueStore } from '../store/kv';

/** An unfinished draft as journaled. */
export interface OpenDraft {
  chat: string;
  message: string;
  /** The process run that sent it: a sweep leaves drafts of the running process alone. */
  boot: string;
  /** ms since the epoch when it was sent. */
  at: number;
}

/** What StreamRelay tells a journal. Never awaited on the reply path: it must not slow replies. */
export interface DraftJournal {
  opened(chat: string, message: string): void;
  closed(chat: string, message: string): void;
}

/** The platform's delete call for one message of one chat. */
export type RemoveDraft = (chat: string, message: string) => Promise<void>;

export interface SweepResult {
  removed: number;
  /** Drafts whose delete failed for a passing reason (network): worth another try. */
  kept: number;
}

/** Telegram lets a bot delete its messages for 48 hours; after that an entry is only noise. */
const MAX_AGE_MS = 48 * 3600_000;

/** A {@link DraftJournal} on a {@link KeyValueStore} (a small JSON file in the user dir). */
export class KeyValueDraftJournal implements DraftJournal {
  readonly boot = crypto.randomUUID();
  private warned = false;
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly kv: KeyValueStore,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  opened(chat: string, message: string): void {
    const entry: OpenDraft = { chat, message, boot: this.boot, at: Date.now() };
    this.track(this.kv.set(keyOf(chat, message), entry));
  }

  closed(chat: string, message: string): void {
    this.track(this.kv.delete(keyOf(chat, message)));
  }

  /** Resolves when every write begun so far has ended: a closing node waits for it. */
  async idle(): Promise<void> {
    while (this.writing.size) await Promise.all([...this.writing]);
  }

  private track(write: Promise<void>): void {
    const p = write.catch((err) => this.fail(err)).finally(() => this.writing.delete(p));
    this.writing.add(p);
  }

  /**
   * Delete the drafts an earlier run of the process left behind, with `remove` (the platform's
   * delete call). An entry goes once its draft is deleted, or when the delete is refused (the
   * message is gone already, or too old); a network failure keeps it. Resolves with the number
   * deleted and the number kept for a later try; never rejects.
   */
  sweep(remove: RemoveDraft, isPermanent: (err: unknown) => boolean): Promise<SweepResult> {
    const run = this.sweepOnce(remove, isPermanent);
    this.track(run.then(() => undefined));
    return run;
  }

  /**
   * Sweep until nothing of an earlier run is left: the platform unreachable at the start (a
   * crash in a network outage) would otherwise keep the drafts in the chat until the next
   * restart. Pauses double from `firstWaitMs` up to 30 minutes; `signal` (the node's close)
   * ends it. Never rejects.
   */
  async sweepUntilClean(remove: RemoveDraft, isPermanent: (err: unknown) => boolean, o: { signal: AbortSignal; firstWaitMs?: number }): Promise<void> {
    for (let wait = o.firstWaitMs ?? 30_000; !o.signal.aborted; wait = Math.min(wait * 2, 30 * 60_000)) {
      if ((await this.sweep(remove, isPermanent)).kept === 0) return;
      await delay(wait, undefined, { signal: o.signal }).catch(() => undefined);
    }
  }

  private async sweepOnce(remove: RemoveDraft, isPermanent: (err: unknown) => boolean): Promise<SweepResult> {
    let removed = 0;
    let kept = 0;
    try {
      for (const key of await this.kv.keys('')) {
        const d = await this.kv.get<OpenDraft>(key);
        if (!d || d.boot === this.boot) continue;
        if (Date.now() - d.at > MAX_AGE_MS) {
          await this.kv.delete(key);
          continue;
        }
        try {
          await remove(d.chat, d.message);
          removed++;
          await this.kv.delete(key);
        } catch (err) {
          if (isPermanent(err)) await this.kv.delete(key);
          else {
            kept++;
            this.fail(err);
          }
        }
      }
    } catch (err) {
      this.fail(err); // an unreadable journal: nothing a retry would change
    }
    return { removed, kept };
  }

  /** Report the first failure only: a read-only user dir would otherwise warn on every draft. */
  private fail(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.onError(err);
  }
}

function keyOf(chat: string, message: string): string {
  return `${chat}/${message}`;
}
