/**
 * The one Telegram client of one bot token: what the config node owns. It learns who the bot
 * is (getMe), receives updates by long polling or webhook, turns them into envelopes for the
 * subscribed in-nodes, and gives out-nodes a {@link TelegramOutbound}. Its state is one value
 * ({@link ClientState}) broadcast to every listener, so every node shows the same truth.
 */
import { setMaxListeners } from 'events';
import { Bot } from 'grammy';
import type { ChatEnvelope } from '../../envelope';
import type { KeyValueStore } from '../../store/kv';
import { classify, redactTokens, rememberToken, type Failure } from './errors';
import { adaptUpdate, updateIdOf, type BotIdentity } from './inbound';
import { offsetStoreFor, type OffsetStore } from './offsets';
import { TelegramOutbound } from './outbound';
import { Poller, type PollerEvent } from './poller';
import { checkWebhookSecret, WebhookLedger } from './webhook';
import { abortableDelay, apiSignal, Backoff, type BackoffOptions } from './wait';

export type ClientState = 'connecting' | 'ready' | 'reconnecting' | 'stopped' | 'failed';

export interface ClientStatus {
  state: ClientState;
  mode: 'polling' | 'webhook';
  /** Why we are reconnecting or failed. */
  failure?: Failure;
  retryInMs?: number;
}

export interface WebhookSettings {
  /** The public URL Telegram calls. */
  url: string;
  /** Checked on every request. */
  secret: string;
}

export interface TelegramClientOptions {
  token: string;
  /** Bot API server root; default https://api.telegram.org. */
  apiRoot?: string;
  mode: 'polling' | 'webhook';
  webhook?: WebhookSettings;
  /** Where the update offset lives. */
  store: KeyValueStore;
  pollTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  conflictBackoff?: BackoffOptions;
}

/** A message for subscribers, or a problem to report (malformed update and the like). */
export interface InboundEvent {
  envelope: ChatEnvelope;
  /** The raw update, for users who need a field the envelope lacks. */
  update: unknown;
}

/**
 * Receives one message. A promise defers confirming it to Telegram until it settles; `false`
 * means "not taken, deliver again" (the subscriber is closing). See src/handoff.ts.
 */
type Subscriber = (ev: InboundEvent) => void | Promise<boolean>;

const ALLOWED_UPDATES = ['message', 'edited_message'];

export class TelegramClient {
  readonly bot: Bot;
  readonly outbound: TelegramOutbound;
  private readonly controller = new AbortController();
  private readonly subscribers = new Set<Subscriber>();
  private readonly statusListeners = new Set<(s: ClientStatus) => void>();
  private readonly problemListeners = new Set<(err: Error) => void>();
  private status: ClientStatus;
  private me?: BotIdentity;
  private offsets?: OffsetStore;
  private poller?: Poller;
  private starting?: Promise<void>;
  private webhookReady = false;
  /** Which webhook updates were handled (created once the saved offset is read). */
  private webhookLedger?: WebhookLedger;
  /** Pollers stopped because their last subscriber left, until they have saved their offset. */
  private readonly stopping = new Set<Promise<void>>();
  /** Stops {@link redactTokens} from looking for this client's token (on close). */
  private readonly forgetToken: () => void;

  constructor(private readonly opts: TelegramClientOptions) {
    this.forgetToken = rememberToken(opts.token);
    // Every call in flight (a burst of replies, their 429 waits) listens on this one signal
    // and stops listening when it ends; Node's default of 10 would log a "possible memory leak".
    setMaxListeners(0, this.controller.signal);
    this.bot = new Bot(opts.token, {
      client: {
        ...(opts.apiRoot ? { apiRoot: opts.apiRoot.replace(/\/+$/, '') } : {}),
        // Long enough for a long poll plus slack; short enough to notice a dead connection.
        timeoutSeconds: (opts.pollTimeoutSeconds ?? 30) + 15,
      },
    });
    this.outbound = new TelegramOutbound(this.bot.api, { signal: this.controller.signal });
    this.status = { state: 'connecting', mode: opts.mode };
  }

  /** The bot, once getMe answered. */
  get identity(): BotIdentity | undefined {
    return this.me;
  }

  get currentStatus(): ClientStatus {
    return this.status;
  }

  /** How many in-nodes receive messages (0: nothing polls). */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Listen to state changes; called at once with the current state. Returns the remover. */
  onStatus(fn: (s: ClientStatus) => void): () => void {
    this.statusListeners.add(fn);
    fn(this.status);
    return () => this.statusListeners.delete(fn);
  }

  /** Problems worth a log line that do not change the state (malformed updates). */
  onProblem(fn: (err: Error) => void): () => void {
    this.problemListeners.add(fn);
    return () => this.problemListeners.delete(fn);
  }

  /**
   * Receive inbound messages. The first subscriber starts receiving (polling or webhook);
   * without subscribers nothing polls, so no update is consumed that nobody would handle.
   */
  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    void this.ensureReceiving();
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0 && this.poller) {
        const p = this.poller;
        this.poller = undefined;
        // close() waits for it: the next deploy's poller must read the offset this one saves.
        const stopped = p.stop().finally(() => this.stopping.delete(stopped));
        this.stopping.add(stopped);
      }
    };
  }

  /** getMe with retries (network / 5xx back off; 401 fails for good). Idempotent. */
  start(): Promise<void> {
    if (!this.starting) this.starting = this.connect();
    return this.starting;
  }

  /**
   * Handle one webhook request: `secretHeader` is the X-Telegram-Bot-Api-Secret-Token value.
   * Returns the HTTP status to answer with, as a promise when the flow's hand-off is awaited
   * (decision 0170): 200 once the flow took the update, 503 when it did not (a closing node),
   * so Telegram sends it again. A malformed body is reported and answered 200 (Telegram would
   * otherwise re-send it forever).
   */
  handleWebhook(secretHeader: unknown, body: unknown): number | Promise<number> {
    if (this.opts.mode !== 'webhook' || !this.opts.webhook) return 404;
    const denied = checkWebhookSecret(this.opts.webhook.secret, secretHeader);
    if (denied) return denied;
    const ledger = this.webhookLedger;
    if (!this.me || !ledger || this.subscribers.size === 0) return 503; // Telegram retries later
    let id: number;
    try {
      id = updateIdOf(body);
    } catch (err) {
      this.problem(err as Error);
      return 200;
    }
    const seen = ledger.check(id);
    if (seen === 'done') return 200; // a re-delivery
    if (seen !== 'new') return seen.then((taken) => (taken ? 200 : 503)); // the same update, still in flight
    let r: void | Promise<boolean>;
    try {
      r = this.dispatch(body);
    } catch (err) {
      this.problem(err as Error); // a malformed update: re-sending it would fail again
      r = undefined;
    }
    const outcome = r && typeof r.then === 'function' ? r : Promise.resolve(true);
    ledger.begin(id, outcome);
    const answer = outcome.then((taken) => {
      const floor = ledger.end(id, taken);
      if (floor !== undefined) this.offsets?.save(floor).catch((err) => this.problem(new Error(`could not save the update offset: ${(err as Error).message}`)));
      return taken ? 200 : 503;
    });
    // Nobody waits for a hand-off: answer at once, as before.
    return r ? answer : (void answer, 200);
  }

  /** Stop receiving, abort every call and wait; in webhook mode remove the webhook. */
  async close(): Promise<void> {
    const poller = this.poller;
    this.poller = undefined;
    this.controller.abort(new Error('client closed'));
    await poller?.stop();
    await Promise.allSettled([...this.stopping]);
    await this.starting?.catch(() => undefined);
    if (this.opts.mode === 'webhook' && this.webhookReady) {
      // Best effort, bounded: a redeploy must not hang on an unreachable Bot API.
      const cut = new AbortController();
      const timer = setTimeout(() => cut.abort(), 3000);
      await this.bot.api.deleteWebhook({}, apiSignal(cut.signal)).catch(() => undefined);
      clearTimeout(timer);
      this.webhookReady = false;
    }
    this.subscribers.clear();
    this.setStatus({ state: 'stopped', mode: this.opts.mode });
    this.statusListeners.clear();
    this.problemListeners.clear();
    this.forgetToken();
  }

  private async connect(): Promise<void> {
    const backoff = new Backoff(this.opts.backoff ?? { initialMs: 1000, maxMs: 30_000 });
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        const me = await this.bot.api.getMe(apiSignal(signal));
        this.me = { id: me.id, username: me.username };
        this.bot.botInfo = me;
        this.offsets = offsetStoreFor(this.opts.store, me.id);
        if (this.opts.mode === 'webhook') {
          this.webhookLedger = new WebhookLedger(await this.offsets.load().catch(() => undefined));
        }
        break;
      } catch (err) {
        if (signal.aborted) return;
        const f = classify(err);
        if (f.kind === 'unauthorized') {
          this.setStatus({ state: 'failed', mode: this.opts.mode, failure: f });
          return;
        }
        const wait = f.kind === 'rate-limited' ? (f.retryAfterMs ?? 1000) : backoff.next();
        this.setStatus({ state: 'reconnecting', mode: this.opts.mode, failure: f, retryInMs: wait });
        await abortableDelay(wait, signal).catch(() => undefined);
      }
    }
    if (signal.aborted) return;
    if (this.opts.mode === 'webhook') await this.registerWebhook();
    else this.setStatus({ state: this.subscribers.size ? 'connecting' : 'ready', mode: 'polling' });
    await this.ensureReceiving();
  }

  private async registerWebhook(): Promise<void> {
    const hook = this.opts.webhook;
    const signal = this.controller.signal;
    if (!hook) {
      this.setStatus({ state: 'failed', mode: 'webhook', failure: { kind: 'rejected', description: 'webhook mode needs a public URL' } });
      return;
    }
    const backoff = new Backoff(this.opts.backoff ?? { initialMs: 1000, maxMs: 30_000 });
    while (!signal.aborted) {
      try {
        await this.bot.api.setWebhook(hook.url, { secret_token: hook.secret, allowed_updates: ALLOWED_UPDATES as never }, apiSignal(signal));
        this.webhookReady = true;
        this.setStatus({ state: 'ready', mode: 'webhook' });
        return;
      } catch (err) {
        if (signal.aborted) return;
        const f = classify(err);
        if (f.kind === 'unauthorized' || f.kind === 'rejected') {
          this.setStatus({ state: 'failed', mode: 'webhook', failure: f });
          return;
        }
        const wait = f.kind === 'rate-limited' ? (f.retryAfterMs ?? 1000) : backoff.next();
        this.setStatus({ state: 'reconnecting', mode: 'webhook', failure: f, retryInMs: wait });
        await abortableDelay(wait, signal).catch(() => undefined);
      }
    }
  }

  private async ensureReceiving(): Promise<void> {
    if (this.opts.mode !== 'polling' || this.poller || !this.me || !this.offsets) return;
    if (this.subscribers.size === 0 || this.controller.signal.aborted) return;
    this.poller = new Poller({
      api: this.bot.api,
      offsets: this.offsets,
      timeoutSeconds: this.opts.pollTimeoutSeconds,
      allowedUpdates: ALLOWED_UPDATES,
      backoff: this.opts.backoff,
      conflictBackoff: this.opts.conflictBackoff,
      onUpdate: (u) => this.dispatch(u),
      onState: (ev) => this.onPollerState(ev),
      onProblem: (err) => this.problem(err),
    });
    this.poller.start();
  }

  private onPollerState(ev: PollerEvent): void {
    const state: ClientState = ev.state === 'polling' ? 'ready' : ev.state;
    // A poller stopped because its last subscriber left: the client itself is still usable.
    if (ev.state === 'stopped' && !this.controller.signal.aborted) {
      this.setStatus({ state: 'ready', mode: 'polling' });
      return;
    }
    this.setStatus({ state, mode: 'polling', failure: ev.failure, retryInMs: ev.retryInMs });
  }

  /**
   * Update -> envelope -> every subscriber. Malformed updates become problems. Returns a promise
   * when a subscriber defers the confirmation: true once every one took it, false if any did not.
   */
  private dispatch(update: unknown): void | Promise<boolean> {
    if (!this.me) return;
    const result = adaptUpdate(update, this.me); // throws MalformedUpdateError: the caller reports it
    if (result.kind === 'skip') return;
    const deferred: Promise<boolean>[] = [];
    for (const fn of [...this.subscribers]) {
      try {
        const r = fn({ envelope: structuredClone(result.envelope), update });
        if (r && typeof r.then === 'function') {
          deferred.push(r.catch((err: Error) => (this.problem(err), true)));
        }
      } catch (err) {
        this.problem(err as Error);
      }
    }
    if (deferred.length) return Promise.all(deferred).then((all) => all.every((ok) => ok !== false));
  }

  private problem(raw: Error): void {
    // Problems become log lines: the same redaction as every failure (see errors.ts).
    const err = raw instanceof Error ? raw : new Error(String(raw));
    const clean = redactTokens(err.message);
    if (clean !== err.message) err.message = clean;
    for (const fn of [...this.problemListeners]) {
      try {
        fn(err);
      } catch {
        /* a listener's own failure must not stop the poller */
      }
    }
  }

  private setStatus(s: ClientStatus): void {
    this.status = s;
    for (const fn of [...this.statusListeners]) {
      try {
        fn(s);
      } catch {
        /* see problem() */
      }
    }
  }
}
