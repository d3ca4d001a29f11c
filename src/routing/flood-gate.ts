/**
 * Per-peer flood control: at most `limit` messages per `windowMs` from one peer.
 *
 * Fixed windows that start at a peer's first message: simple to explain ("10 messages per
 * minute"), O(1) per message, and they give a natural unit for "one polite reply per window,
 * not one per message". Nothing runs on a timer: stale windows are swept while counting, so
 * the node has nothing to clear on close and memory stays bounded by the active peers.
 */

export interface FloodGateOptions {
  /** Messages allowed per window; 0 or less turns flood control off. */
  limit: number;
  windowMs: number;
}

export type FloodVerdict =
  | { allowed: true }
  /** `notify` is true once per window: the first message over the limit gets the reply. */
  | { allowed: false; notify: boolean; retryAfterMs: number };

interface Window {
  start: number;
  count: number;
  notified: boolean;
}

export class FloodGate {
  private readonly windows = new Map<string, Window>();
  private nextSweep = 0;

  constructor(private readonly opts: FloodGateOptions) {}

  get enabled(): boolean {
    return this.opts.limit > 0 && this.opts.windowMs > 0;
  }

  /** Count one message of `peer` at time `now`. */
  hit(peer: string, now: number): FloodVerdict {
    if (!this.enabled) return { allowed: true };
    this.sweep(now);
    let w = this.windows.get(peer);
    if (!w || now - w.start >= this.opts.windowMs) {
      w = { start: now, count: 0, notified: false };
      this.windows.set(peer, w);
    }
    w.count++;
    if (w.count <= this.opts.limit) return { allowed: true };
    const notify = !w.notified;
    w.notified = true;
    return { allowed: false, notify, retryAfterMs: Math.max(0, w.start + this.opts.windowMs - now) };
  }

  /** Peers with a live window (for tests that check memory stays bounded). */
  get trackedPeers(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.opts.windowMs;
    for (const [peer, w] of this.windows) if (now - w.start >= this.opts.windowMs) this.windows.delete(peer);
  }
}
