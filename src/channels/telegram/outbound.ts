/**
 * Sending to one Telegram chat: sendMessage / editMessageText / sendChatAction with the rules
 * every reply needs. 429 waits Telegram's `retry_after` and tries again (Telegram did not
 * process the call, so this never duplicates); a dropped connection (reset, hang up, refused)
 * and a 5xx answer are tried again a few times after a short capped backoff (decision 0230: a
 * lost reply is worse than a rare duplicate); rejected markup is retried once as plain text;
 * an edit that changes nothing is not an error. Everything else fails with Telegram's own
 * description, so `done(err)` tells the user what Telegram said.
 */
import type { Api } from 'grammy';
import type { ReplyFormat } from '../../envelope';
import type { DraftOps } from '../stream-relay';
import type { KeyValueDraftJournal } from '../draft-journal';
import { classify, TelegramError, toTelegramError, type Failure } from './errors';
import { render } from './format';
import { abortableDelay, apiSignal, Backoff, type BackoffOptions } from './wait';

/** Where a reply goes. */
export interface ReplyTarget {
  chatId: string;
  /** Forum topic to post in. */
  threadId?: string;
  /** Quote this message (groups). */
  replyToMessageId?: string;
}

export interface OutboundOptions {
  /** How many times to wait out a 429 before giving up. Default 10 (a storm of them, each waited out). */
  maxRateLimitRetries?: number;
  /** A `retry_after` longer than this fails at once rather than blocking the flow. Default 60 s. */
  maxRetryAfterMs?: number;
  /** How many times to try again after a dropped connection. Default 3. */
  maxNetworkRetries?: number;
  /** Waits between those tries: doubling from `initialMs`, capped. Default 250 ms to 2 s. */
  networkBackoff?: BackoffOptions;
  /** Aborts waits (redeploy). */
  signal?: AbortSignal;
  /** Told about plain-text fallbacks, so the node can warn once. */
  onMarkupRejected?: (description: string) => void;
}

type SendApi = Pick<Api, 'sendMessage' | 'editMessageText' | 'sendChatAction' | 'deleteMessage'>;

export class TelegramOutbound {
  private readonly maxRetries: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxNetworkRetries: number;

  constructor(
    private readonly api: SendApi,
    private readonly opts: OutboundOptions = {},
  ) {
    this.maxRetries = opts.maxRateLimitRetries ?? 10;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
    this.maxNetworkRetries = opts.maxNetworkRetries ?? 3;
  }

  /** Send one message (text within Telegram's limit); resolve with its message id. */
  async send(to: ReplyTarget, text: string, format: ReplyFormat = 'plain', onMarkupRejected?: (description: string) => void): Promise<string> {
    const base = {
      ...(to.threadId ? { message_thread_id: Number(to.threadId) } : {}),
      ...(to.replyToMessageId
        ? { reply_parameters: { message_id: Number(to.replyToMessageId), allow_sending_without_reply: true } }
        : {}),
    };
    const msg = await this.withMarkupFallback(
      'sendMessage',
      text,
      format,
      (body, parseMode) =>
        this.api.sendMessage(to.chatId, body, { ...base, ...(parseMode ? { parse_mode: parseMode } : {}) }, apiSignal(this.opts.signal)),
      onMarkupRejected,
    );
    return String(msg.message_id);
  }

  /** Replace a sent message's text. "Not modified" counts as success. */
  async edit(to: ReplyTarget, messageId: string, text: string, format: ReplyFormat = 'plain', onMarkupRejected?: (description: string) => void): Promise<void> {
    try {
      await this.withMarkupFallback(
        'editMessageText',
        text,
        format,
        (body, parseMode) =>
          this.api.editMessageText(to.chatId, Number(messageId), body, parseMode ? { parse_mode: parseMode } : {}, apiSignal(this.opts.signal)),
        onMarkupRejected,
      );
    } catch (err) {
      if ((err as { failure?: { notModified?: boolean } }).failure?.notModified) return;
      throw err;
    }
  }

  /**
   * Show "typing…" for about five seconds. One try: the relay repeats it every few seconds, and
   * a retried one (after a 429's wait) could land after the reply and show "typing…" under it.
   * A 429 skips this one quietly, since it is cosmetic and Telegram asked for fewer calls.
   */
  async typing(to: ReplyTarget): Promise<void> {
    try {
      await this.api.sendChatAction(to.chatId, 'typing', to.threadId ? { message_thread_id: Number(to.threadId) } : {}, apiSignal(this.opts.signal));
    } catch (err) {
      if (classify(err).kind === 'rate-limited') return;
      throw toTelegramError('sendChatAction', err);
    }
  }

  /**
   * Delete a message. "Not found" after a dropped connection means the first try got through:
   * the message is gone, which is what was asked.
   */
  async remove(to: ReplyTarget, messageId: string): Promise<void> {
    let dropped = false;
    try {
      // No abort signal on the call itself: a redeploy deletes unfinished drafts while the
      // client closes (the retries stop with the signal, the one call goes through).
      await this.retrying('deleteMessage', () => this.api.deleteMessage(to.chatId, Number(messageId)), () => (dropped = true));
    } catch (err) {
      const f = (err as { failure?: ReturnType<typeof classify> }).failure;
      if (dropped && f?.kind === 'rejected' && /not found/i.test(f.description)) return;
      throw err;
    }
  }

  /** The {@link DraftOps} of one chat, for the shared stream relay. */
  draftOps(to: ReplyTarget, format: ReplyFormat, onMarkupRejected?: (description: string) => void): DraftOps {
    return {
      send: (text) => this.send(to, text, format, onMarkupRejected),
      edit: (id, text) => this.edit(to, id, text, format, onMarkupRejected),
      typing: () => this.typing(to),
      remove: (id) => this.remove(to, id),
      chat: to.chatId,
    };
  }

  /**
   * Delete the drafts a killed process left unfinished, trying again while Telegram is
   * unreachable (see {@link KeyValueDraftJournal.sweepUntilClean}). Telegram refusing the delete
   * (gone already, older than 48 h) is final.
   */
  sweepDrafts(journal: KeyValueDraftJournal, o: { signal: AbortSignal; firstWaitMs?: number }): Promise<void> {
    return journal.sweepUntilClean(
      (chat, message) => this.remove({ chatId: chat }, message),
      (err) => (err as { failure?: Failure }).failure?.kind === 'rejected',
      o,
    );
  }

  private async withMarkupFallback<T>(
    method: string,
    text: string,
    format: ReplyFormat,
    call: (body: string, parseMode?: 'HTML') => Promise<T>,
    onMarkupRejected?: (description: string) => void,
  ): Promise<T> {
    const r = render(text, format);
    try {
      return await this.retrying(method, () => call(r.text, r.parseMode));
    } catch (err) {
      const f = (err as { failure?: ReturnType<typeof classify> }).failure;
      if (!r.parseMode || !f?.badMarkup) throw err;
      (onMarkupRejected ?? this.opts.onMarkupRejected)?.(f.description);
      return this.retrying(method, () => call(r.plainFallback));
    }
  }

  /**
   * Run `fn`, waiting out 429s and trying again after dropped connections; throw a
   * TelegramError otherwise, or once the tries are used up. A close (the signal) ends at once.
   */
  private async retrying<T>(method: string, fn: () => Promise<T>, onDropped?: () => void): Promise<T> {
    const backoff = new Backoff(this.opts.networkBackoff ?? { initialMs: 250, maxMs: 2000 });
    let rateLimited = 0;
    let dropped = 0;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (this.opts.signal?.aborted) throw toTelegramError(method, err);
        const f = classify(err);
        let wait: number;
        if (f.kind === 'rate-limited' && rateLimited < this.maxRetries && (f.retryAfterMs ?? 0) <= this.maxRetryAfterMs) {
          rateLimited++;
          wait = f.retryAfterMs ?? 1000;
        } else if ((f.kind === 'network' && !f.timedOut) || f.kind === 'server') {
          // A 5xx is the Bot API's own passing trouble (a restart, an overloaded front end):
          // tried again like a dropped connection, or a single one would lose the reply.
          if (dropped >= this.maxNetworkRetries) {
            const how = f.kind === 'server' ? `Telegram answered ${f.code ?? '5xx'} each time` : 'the connection dropped each time';
            throw new TelegramError(`Telegram ${method} failed after ${dropped + 1} attempts, ${how}: ${f.description}`, f);
          }
          dropped++;
          onDropped?.();
          wait = backoff.next();
        } else {
          throw toTelegramError(method, err);
        }
        await abortableDelay(wait, this.opts.signal).catch(() => {
          throw toTelegramError(method, err);
        });
      }
    }
  }
}
