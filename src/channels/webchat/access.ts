/**
 * Who may open the chat socket.
 *
 * - Origin: a browser always sends it on a WebSocket handshake; a page on another site must not
 *   be able to drive the chat with the visitor's cookies or basic-auth credentials (cross-site
 *   WebSocket hijacking). Same-origin by default (Origin host equals Host), or a list.
 * - Tickets: the page first POSTs `<path>/ticket` over plain HTTP, which Node-RED's http node
 *   auth (httpNodeAuth / httpNodeMiddleware) and the optional access token protect; the socket
 *   then needs that one-time ticket. So every check that applies to HTTP applies to the socket,
 *   without relying on browsers sending basic-auth headers on WebSocket handshakes.
 */
import crypto from 'crypto';

/** True if the handshake's Origin may connect. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (!origin || origin === 'null') return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const normalised = `${url.protocol}//${url.host}`.toLowerCase();
  if (allowed.some((a) => a.replace(/\/+$/, '').toLowerCase() === normalised)) return true;
  return !!host && url.host.toLowerCase() === host.toLowerCase();
}

/** Constant-time comparison of a presented access token with the configured one. */
export function tokenMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/**
 * One-time tickets for the socket handshake. Expired tickets are pruned when a ticket is
 * issued or used (no timer to clear), and at most `max` are outstanding.
 */
export class TicketBook {
  private readonly tickets = new Map<string, number>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  issue(): string {
    this.prune();
    while (this.tickets.size >= this.max) {
      const oldest = this.tickets.keys().next().value as string;
      this.tickets.delete(oldest);
    }
    const t = crypto.randomBytes(24).toString('base64url');
    this.tickets.set(t, this.now() + this.ttlMs);
    return t;
  }

  /** True (once) for a ticket that was issued and has not expired. */
  redeem(ticket: string | null | undefined): boolean {
    this.prune();
    if (!ticket || !this.tickets.has(ticket)) return false;
    this.tickets.delete(ticket);
    return true;
  }

  get size(): number {
    return this.tickets.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [t, exp] of this.tickets) if (exp <= now) this.tickets.delete(t);
  }
}
