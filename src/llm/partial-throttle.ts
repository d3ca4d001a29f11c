/**
 * Paces the streamed partials of one reply. Providers stream a chunk per token or two (often
 * 50+ a second); each partial is a Node-RED message through session end and a channel-out, a
 * WebSocket frame or a draft edit, while a person reads no faster than a few updates a second.
 * The first partial and the first text go out at once (time to first token is what a user
 * feels); later chunks within `intervalMs` of the last partial are merged into one, whose
 * delta is everything added since the previous partial. `finish()` drops what is pending: the
 * final reply that follows carries the whole text.
 */
/** 20 updates a second: smooth to read, and a fraction of a token-per-chunk stream's messages. */
export const PARTIAL_INTERVAL_MS = 50;

export interface PartialThrottleOptions {
  /** Minimum ms between two partials; 0 passes every chunk through. */
  intervalMs: number;
  emit(delta: string, text: string): void;
}

export class PartialThrottle {
  private lastAt = -Infinity;
  private pendingDelta = '';
  private pendingText: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sentText = false;

  constructor(private readonly o: PartialThrottleOptions) {}

  push(delta: string, text: string): void {
    // A text that does not extend the pending one started over (a retry): what was held is gone.
    if (this.pendingText !== undefined && !text.startsWith(this.pendingText)) this.pendingDelta = '';
    this.pendingDelta += delta;
    this.pendingText = text;
    const wait = this.lastAt + this.o.intervalMs - Date.now();
    // Right away: when the interval has passed, and for the first text after "typing".
    if (wait <= 0 || (!this.sentText && text !== '')) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Stop: nothing pending is sent (the final reply or the apology supersedes it). */
  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingText = undefined;
    this.pendingDelta = '';
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingText === undefined) return;
    const delta = this.pendingDelta;
    const text = this.pendingText;
    this.pendingDelta = '';
    this.pendingText = undefined;
    this.lastAt = Date.now();
    if (text !== '') this.sentText = true;
    this.o.emit(delta, text);
  }
}
