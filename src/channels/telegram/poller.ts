/**
 * Our own getUpdates loop (not grammY's `bot.start()`): see
 * docs/decisions/0050-telegram-own-polling-loop.md. It owns the offset (persisted after every
 * batch, once the flow took the batch's updates: decision 0160), follows Telegram when it
 * numbers its updates anew, keeps going past a broken update or a throwing handler, and decides per failure kind: 401 stops, 409 backs off long (another poller holds
 * the token), 429 waits `retry_after`, everything else backs off to a cap. `stop()` aborts the
 * in-flight long poll and resolves when the loop has exited, so the next poller never overlaps.
 */
import type { Api } from 'grammy';
import { classify, redactTokens, type Failure } from './errors';
import { updateIdOf } from './inbound';
import type { OffsetStore } from './offsets';
import { abortableDelay, apiSignal, Backoff, type BackoffOptions } from './wait';

export type PollerState = 'connecting' | 'polling' | 'reconnecting' | 'stopped' | 'failed';

export interface PollerEvent {
  state: PollerState;
  /** Why we are reconnecting or failed. */
  failure?: Failure;
  /** When reconnecting: the wait before the next attempt. */
  retryInMs?: number;
}

export interface PollerOptions {
  api: Pick<Api, 'getUpdates' | 'deleteWebhook'>;
  offsets: OffsetStore;
  /** Long-poll timeout in seconds. Default 30. */
  timeoutSeconds?: number;
  allowedUpdates?: string[];
  /** Network and 5xx failures. Default 1 s doubling to 30 s. */
  backoff?: BackoffOptions;
  /** 409 conflicts. Default 5 s doubling to 60 s. */
  conflictBackoff?: BackoffOptions;
  /**
   * Handle one update. Throwing (or a malformed update) is reported and does not stop the loop.
   * A promise defers the confirmation: the batch's offset is saved (and the next batch asked
   * for, which makes Telegram forget the update) only once it settles. `false` means "not
   * taken, deliver again": the offset stops before that update. Bound the wait yourself (see
   * src/handoff.ts); only `stop()` cuts it short, and then an unsettled update counts as not taken.
   */
  onUpdate(update: unknown): void | Promise<boolean>;
  onState(event: PollerEvent): void;
  /** A malformed update, a throwing handler, an offset that could not be saved. */
  onProblem(err: Error): void;
}

export class Poller {
  private readonly controller = new AbortController();
  private readonly backoff: Backoff;
  private readonly conflictBackoff: Backoff;
  private running?: Promise<void>;
  private offset?: number;
  private state?: PollerState;

  constructor(private readonly opts: PollerOptions) {
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 1000, maxMs: 30_000 });
    this.conflictBackoff = new Backoff(opts.conflictBackoff ?? { initialMs: 5000, maxMs: 60_000 });
  }

  /** Start the loop (once). Never rejects: every failure becomes a state event. */
  start(): void {
    if (this.running) return;
    this.running = this.loop().catch((err) => {
      // Only a bug gets here; report it rather than leave an unhandled rejection.
      this.opts.onProblem(err as Error);
      this.setState({ state: 'failed', failure: { kind: 'network', description: redactTokens((err as Error).message) } });
    });
  }

  /** Abort the in-flight getUpdates and any wait; resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.controller.abort(new Error('poller stopped'));
    await this.running;
    if (this.state !== 'failed') this.setState({ state: 'stopped' });
  }

  /** The offset the next getUpdates will send. */
  get nextOffset(): number | undefined {
    return this.offset;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private setState(ev: PollerEvent): void {
    if (ev.state === this.state && ev.state === 'polling') return;
    this.state = ev.state;
    this.opts.onState(ev);
  }

  private async loop(): Promise<void> {
    this.setState({ state: 'connecting' });
    try {
      this.offset = await this.opts.offsets.load();
    } catch (err) {
      this.opts.onProblem(new Error(`could not read the saved update offset (${(err as Error).message}); starting from Telegram's`));
    }
    let webhookCleared = false;
    // After a start or a failure, ask with timeout 0 first: the answer comes at once, so the
    // state says "polling" as soon as the Bot API is reachable, not after a full long poll.
    let probe = true;
    while (!this.signal.aborted) {
      try {
        if (!webhookCleared) {
          // A webhook left behind (mode switch) makes every getUpdates a 409.
          await this.opts.api.deleteWebhook({ drop_pending_updates: false }, apiSignal(this.signal));
          webhookCleared = true;
        }
        const updates: unknown = await this.opts.api.getUpdates(
          {
            ...(this.offset !== undefined ? { offset: this.offset } : {}),
            timeout: probe ? 0 : (this.opts.timeoutSeconds ?? 30),
            ...(this.opts.allowedUpdates ? { allowed_updates: this.opts.allowedUpdates as never } : {}),
          },
          apiSignal(this.signal),
        );
        if (this.signal.aborted) break;
        if (!Array.isArray(updates)) {
          // A broken proxy or API root: asking again at once would spin. Back off like any
          // failure, and say so once per backoff step.
          probe = true;
          const description = `Telegram answered getUpdates with something that is not a list of updates (${kindOf(updates)})`;
          this.opts.onProblem(new Error(`${description}; asking again later`));
          await this.onFailure({ kind: 'server', description: redactTokens(description) }).catch(() => undefined);
          continue;
        }
        probe = false;
        this.backoff.reset();
        this.conflictBackoff.reset();
        this.setState({ state: 'polling' });
        await this.handleBatch(updates);
      } catch (err) {
        if (this.signal.aborted) break;
        probe = true;
        await this.onFailure(classify(err)).catch(() => undefined);
        if (this.state === 'failed') return;
      }
    }
  }

  private async handleBatch(updates: unknown[]): Promise<void> {
    const before = this.offset;
    const handled: { id: number; taken?: boolean; settled: Promise<void> }[] = [];
    for (const u of updates) {
      let id: number;
      try {
        id = updateIdOf(u);
      } catch (err) {
        this.opts.onProblem(err as Error);
        continue;
      }
      // Asked from our offset, Telegram answers with ids below it only when it numbered its
      // updates anew (it does after a week without any, go-telegram-bot-api#156). Skipping
      // them would confirm nothing and get them again at once, forever: follow the new ids
      // (a re-sent update the session already journaled is dropped there, decision 0210).
      this.offset = id + 1;
      const entry: (typeof handled)[number] = { id, taken: true, settled: Promise.resolve() };
      try {
        const r = this.opts.onUpdate(u);
        if (r && typeof r.then === 'function') {
          entry.taken = undefined;
          entry.settled = r.then(
            (ok) => void (entry.taken = ok !== false),
            (err: Error) => {
              this.opts.onProblem(err);
              entry.taken = true; // a broken handler must not make Telegram re-send forever
            },
          );
        }
      } catch (err) {
        this.opts.onProblem(err as Error);
      }
      handled.push(entry);
    }
    // Wait for the flow to take every update before Telegram may forget any (a stop cuts it short).
    if (handled.some((e) => e.taken === undefined)) await untilAborted(Promise.all(handled.map((e) => e.settled)), this.signal);
    // Confirm up to the first update not taken: it (and what follows) comes again.
    const open = handled.find((e) => e.taken !== true);
    if (open) this.offset = open.id;
    if (this.offset !== undefined && this.offset !== before) {
      try {
        await this.opts.offsets.save(this.offset);
      } catch (err) {
        this.opts.onProblem(new Error(`could not save the update offset: ${(err as Error).message}`));
      }
    }
  }

  private async onFailure(f: Failure): Promise<void> {
    if (f.kind === 'unauthorized') {
      this.setState({ state: 'failed', failure: f });
      return;
    }
    let wait: number;
    if (f.kind === 'rate-limited') wait = f.retryAfterMs ?? 1000;
    else if (f.kind === 'conflict') wait = this.conflictBackoff.next();
    else wait = this.backoff.next();
    this.setState({ state: 'reconnecting', failure: f, retryInMs: wait });
    await abortableDelay(wait, this.signal);
  }
}

/** What a value is, in a word, for a message ("string", "object", "null"). */
function kindOf(v: unknown): string {
  return v === null ? 'null' : typeof v;
}

/** `p`, or earlier when `signal` aborts (never rejects; the listener is removed either way). */
async function untilAborted(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  let onAbort!: () => void;
  const aborted = new Promise<void>((resolve) => (onAbort = resolve));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
