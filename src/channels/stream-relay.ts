/**
 * Shows a streamed reply on a chat platform: "typing" until text arrives, then one draft
 * message edited in place (throttled to the platform's edit rate), which becomes the final
 * reply. The final text never arrives as a second, duplicate message: the draft is edited
 * into its first part and only the parts beyond the platform's limit are sent as new messages.
 *
 * Platform-neutral: a channel-out node supplies {@link DraftOps} for one chat.
 * See docs/decisions/0001-streaming-on-msg.md for the msg form this consumes.
 */
import type { StreamInfo } from '../envelope';
import { splitMessage, type LengthUnit } from './split';
import type { DraftJournal } from './draft-journal';

/** What a channel can do in one chat. */
export interface DraftOps {
  /** Send a new message; resolve with its platform id. */
  send(text: string): Promise<string>;
  /** Replace the text of a message sent earlier. */
  edit(messageId: string, text: string): Promise<void>;
  /** Show "typing…" (platforms expire it after a few seconds). */
  typing?(): Promise<void>;
  /** Delete a message sent earlier (an unfinished draft, when the node closes). */
  remove?(messageId: string): Promise<void>;
  /** The platform's id of this chat: with it, drafts are journaled (see {@link DraftJournal}). */
  chat?: string;
}

export interface StreamRelayOptions {
  /** Platform length limit per message. */
  limit: number;
  unit?: LengthUnit;
  /** Minimum time between two edits of one draft. Telegram: ~1 s per chat is safe. */
  editIntervalMs?: number;
  /** How often to repeat "typing" while a turn runs. */
  typingIntervalMs?: number;
  /** Forget a stream that got no message for this long (its llm turn died). */
  idleTimeoutMs?: number;
  /** Called for failures of drafts/typing, which never fail the reply itself. */
  onBackgroundError?: (err: unknown) => void;
  /** Suffix shown on a draft while more text is coming. */
  draftSuffix?: string;
  /** Where unfinished drafts are noted, so a restart after kill -9 can delete them. */
  journal?: DraftJournal;
}

interface StreamState {
  ops: DraftOps;
  draftId?: string;
  shown?: string;
  pending?: string;
  lastEditAt: number;
  chain: Promise<unknown>;
  flushTimer?: NodeJS.Timeout;
  typingTimer?: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
  /** A draft send or edit failed: no more drafts for this stream, only the final. */
  draftsOff?: boolean;
}

/** Result of handling one message: the ids of messages sent or edited for the final reply. */
export interface RelayResult {
  messageIds: string[];
  /** True for partials (nothing final happened yet). */
  partial: boolean;
}

export class StreamRelay {
  private readonly streams = new Map<string, StreamState>();
  private readonly editIntervalMs: number;
  private readonly typingIntervalMs: number;
  private readonly idleTimeoutMs: number;
  private readonly suffix: string;
  private closed = false;

  constructor(private readonly opts: StreamRelayOptions) {
    this.editIntervalMs = opts.editIntervalMs ?? 1000;
    this.typingIntervalMs = opts.typingIntervalMs ?? 4000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
    this.suffix = opts.draftSuffix ?? ' …';
  }

  /** Parts of a final text as this platform needs them. */
  split(text: string): string[] {
    return splitMessage(text, { limit: this.opts.limit, unit: this.opts.unit });
  }

  /**
   * Handle one outbound message. Without `stream` it is a plain reply (all parts sent).
   * A partial updates the draft (or starts typing); the final edits the draft into the reply.
   * Rejects only when the final reply could not be delivered.
   */
  async handle(ops: DraftOps, text: string, stream?: StreamInfo): Promise<RelayResult> {
    if (this.closed) throw new Error('stream relay is closed');
    if (!stream) return { messageIds: await this.sendAll(ops, this.split(text)), partial: false };
    let st = this.streams.get(stream.id);
    if (!st) {
      st = { ops, lastEditAt: 0, chain: Promise.resolve() };
      this.streams.set(stream.id, st);
    }
    this.touch(stream.id, st);
    if (!stream.done) {
      this.partial(stream.id, st, text);
      return { messageIds: st.draftId ? [st.draftId] : [], partial: true };
    }
    return { messageIds: await this.final(stream.id, st, text), partial: false };
  }

  /** Streams currently shown (for status and tests). */
  get activeStreams(): number {
    return this.streams.size;
  }

  /**
   * Close on redeploy or shutdown: delete every unfinished draft (best effort, within
   * `timeoutMs`), then stop all timers. The interrupted turn runs again after the restart and
   * sends its answer afresh, so a half-written draft left behind would read as a second,
   * broken reply. Resolves with the number of drafts removed; never rejects.
   */
  async abandon(timeoutMs = 2000): Promise<number> {
    const open = [...this.streams.values()];
    for (const st of open) this.clearTimers(st);
    let removed = 0;
    const all = Promise.allSettled(
      // Wait for a draft send still in flight: its id is known only when it returns.
      open.map((st) =>
        st.chain
          .catch(() => undefined)
          .then(async () => {
            if (!st.draftId || !st.ops.remove) return;
            await st.ops.remove(st.draftId);
            this.unjournal(st);
            removed++;
          })
          .catch((err) => this.opts.onBackgroundError?.(err)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.close();
    return removed;
  }

  /** Stop every timer; drafts stay as they are. */
  close(): void {
    this.closed = true;
    for (const st of this.streams.values()) this.clearTimers(st);
    this.streams.clear();
  }

  private partial(id: string, st: StreamState, text: string): void {
    if (st.draftsOff) return;
    if (!text.trim()) {
      if (!st.draftId) this.startTyping(st);
      return;
    }
    st.pending = text;
    this.scheduleFlush(id, st);
  }

  private scheduleFlush(id: string, st: StreamState): void {
    if (st.flushTimer) return;
    const wait = Math.max(0, st.lastEditAt + this.editIntervalMs - Date.now());
    st.flushTimer = setTimeout(() => {
      st.flushTimer = undefined;
      st.chain = st.chain
        .then(() => this.flushDraft(st))
        .catch((err) => {
          // One warning per stream: a chat that refuses (bot blocked, draft deleted) would
          // refuse every later draft too, one failed call and one log line per edit interval.
          st.draftsOff = true;
          this.opts.onBackgroundError?.(err);
        });
    }, wait);
  }

  private async flushDraft(st: StreamState): Promise<void> {
    if (st.pending === undefined || this.closed) return;
    // A draft shows at most the first part; the rest comes with the final reply.
    const first = this.split(st.pending)[0] ?? '';
    st.pending = undefined;
    const shown = this.fitSuffix(first);
    if (shown === st.shown) return;
    st.lastEditAt = Date.now();
    if (!st.draftId) {
      this.stopTyping(st);
      st.draftId = await st.ops.send(shown);
      if (st.ops.chat) this.opts.journal?.opened(st.ops.chat, st.draftId);
    } else {
      await st.ops.edit(st.draftId, shown);
    }
    st.shown = shown;
  }

  private fitSuffix(text: string): string {
    const withSuffix = text + this.suffix;
    return this.split(withSuffix).length === 1 ? withSuffix : text;
  }

  private async final(id: string, st: StreamState, text: string): Promise<string[]> {
    if (st.flushTimer) clearTimeout(st.flushTimer);
    st.flushTimer = undefined;
    st.pending = undefined;
    const done = st.chain.catch(() => undefined).then(async () => {
      this.clearTimers(st);
      this.streams.delete(id);
      const parts = this.split(text);
      if (!st.draftId) return this.sendAll(st.ops, parts);
      // Out of the journal before the draft becomes the reply: a kill in between leaves a stale
      // draft (as without a journal), never a journal entry that deletes the answer.
      this.unjournal(st);
      if (parts.length === 0) return [st.draftId];
      if (parts[0] !== st.shown) {
        try {
          await st.ops.edit(st.draftId, parts[0]);
        } catch (err) {
          // The draft could not become the reply (deleted, too old to edit): send the reply
          // fresh rather than lose it. A stale draft beats a missing answer.
          this.opts.onBackgroundError?.(err);
          return this.sendAll(st.ops, parts);
        }
      }
      return [st.draftId, ...(await this.sendAll(st.ops, parts.slice(1)))];
    });
    st.chain = done;
    return done;
  }

  private async sendAll(ops: DraftOps, parts: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const p of parts) ids.push(await ops.send(p));
    return ids;
  }

  private startTyping(st: StreamState): void {
    if (st.typingTimer || !st.ops.typing) return;
    const tick = () => {
      st.ops.typing?.().catch((err) => this.opts.onBackgroundError?.(err));
    };
    tick();
    st.typingTimer = setInterval(tick, this.typingIntervalMs);
  }

  private stopTyping(st: StreamState): void {
    if (st.typingTimer) clearInterval(st.typingTimer);
    st.typingTimer = undefined;
  }

  private touch(id: string, st: StreamState): void {
    if (st.idleTimer) clearTimeout(st.idleTimer);
    st.idleTimer = setTimeout(() => {
      this.clearTimers(st);
      this.streams.delete(id);
      // Its turn died without a final: the draft stays as the last word, not a leftover.
      this.unjournal(st);
    }, this.idleTimeoutMs);
  }

  private unjournal(st: StreamState): void {
    if (st.draftId && st.ops.chat) this.opts.journal?.closed(st.ops.chat, st.draftId);
  }

  private clearTimers(st: StreamState): void {
    if (st.flushTimer) clearTimeout(st.flushTimer);
    if (st.idleTimer) clearTimeout(st.idleTimer);
    this.stopTyping(st);
    st.flushTimer = st.idleTimer = undefined;
  }
}
