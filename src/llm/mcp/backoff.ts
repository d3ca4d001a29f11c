/**
 * Capped exponential backoff for reconnecting to an MCP server: a server that is down is not
 * hammered, and one that comes back is found again within `maxMs`.
 */
export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  initialMs?: number;
  /** Upper bound of any delay. Default 30 s. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Random extra of up to this fraction, so many clients do not retry in step. Default 0.2. */
  jitter?: number;
}

export class Backoff {
  private attempt = 0;
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = Math.max(1, opts.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, opts.maxMs ?? 30_000);
    this.factor = Math.max(1, opts.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.2));
  }

  /** The delay before the next attempt; each call grows the following one, up to the cap. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, this.attempt));
    this.attempt++;
    return Math.min(this.maxMs, Math.round(base * (1 + Math.random() * this.jitter)));
  }

  /** Start over from `initialMs` (after a connection proved stable). */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
