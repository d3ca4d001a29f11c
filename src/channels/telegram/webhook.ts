/**
 * Webhook mode: Telegram POSTs each update to our URL with the `X-Telegram-Bot-Api-Secret-Token`
 * header set to the secret we gave setWebhook. Every request is checked; a request without it
 * is 401, a wrong one 403, so nobody who merely knows the URL can inject messages.
 */
import crypto from 'crypto';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * A stable secret when the user set none: derived from the token (so it survives restarts and
 * differs per bot) but not revealing it. Telegram allows 1-256 chars of `A-Za-z0-9_-`.
 */
export function deriveWebhookSecret(token: string): string {
  return crypto.createHmac('sha256', 'clawflow-telegram-webhook').update(token).digest('base64url');
}

/** 0 if `given` matches, else the HTTP status to answer with. Constant-time comparison. */
export function checkWebhookSecret(expected: string, given: unknown): 0 | 401 | 403 {
  if (typeof given !== 'string' || given === '') return 401;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return 403;
  return 0;
}

/** Join the public base URL and the route path into the URL Telegram should call. */
export function webhookUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}

/**
 * Which webhook updates were handled, when the flow takes them out of order (decision 0170).
 * Telegram re-sends an update until it gets a 2xx, and may send several at once; an update the
 * flow did not take is answered 503 and must pass when it comes again, even if later ones were
 * taken meanwhile. So "seen" is not one offset: below {@link floor} everything is done, above it
 * the taken ids are remembered until the floor passes them. The floor (what we persist) is the
 * lowest id not yet taken: safe to restart from, at worst an update is handled twice.
 */
/**
 * How far below the floor an update may be and still be a re-delivery of one we handled.
 * Telegram numbers its updates anew after a week without any (the new ids are random, often
 * far lower); read as re-deliveries, every later update would be dropped for good. Updates
 * come again only while Telegram retries them, so a re-delivery sits within the few thousand
 * updates taken since; anything further below means the numbering started over.
 */
export const RENUMBER_WINDOW = 100_000;

export class WebhookLedger {
  private floorId: number | undefined;
  private readonly taken = new Set<number>();
  /** In flight (a promise of "taken") or refused (`false`, until it comes again and is taken). */
  private readonly open = new Map<number, Promise<boolean> | false>();

  /** `floor`: the offset saved last time (ids below it were handled). */
  constructor(floor?: number) {
    this.floorId = floor;
  }

  /** Ids below this were all handled. */
  get floor(): number | undefined {
    return this.floorId;
  }

  /** 'done' (a re-delivery of a handled update), the outcome of the same update in flight, or 'new'. */
  check(id: number): 'done' | 'new' | Promise<boolean> {
    if (this.floorId !== undefined && id < this.floorId - RENUMBER_WINDOW) {
      // Telegram numbers its updates anew: start over from this one.
      this.floorId = undefined;
      this.taken.clear();
    }
    if ((this.floorId !== undefined && id < this.floorId) || this.taken.has(id)) return 'done';
    const o = this.open.get(id);
    return o ? o : 'new';
  }

  /** Update `id` went to the flow; `outcome` says whether it was taken. */
  begin(id: number, outcome: Promise<boolean>): void {
    this.open.set(id, outcome);
  }

  /** The flow's answer for `id`. Returns the new floor when it moved (to persist), else undefined. */
  end(id: number, taken: boolean): number | undefined {
    if (taken) {
      this.open.delete(id);
      this.taken.add(id);
    } else {
      this.open.set(id, false);
    }
    let next: number | undefined;
    if (this.open.size) next = Math.min(...this.open.keys());
    else if (this.taken.size) next = Math.max(...this.taken) + 1;
    if (next === undefined || (this.floorId !== undefined && next <= this.floorId)) return undefined;
    this.floorId = next;
    for (const t of this.taken) if (t < next) this.taken.delete(t);
    return next;
  }
}
