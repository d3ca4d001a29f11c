/**
 * Sending to one Telegram chat: sendMessage / editMessageText / sendChatAction with the rules
 * every reply needs. 429 waits Telegram's `retry_after` and tries again (Telegram did not
 * process the call, so this never duplicates); rejected markup is retried once as plain text;
 * an edit that changes nothing is not an error. Everything else fails with Telegram's own
 * description, so `done(err)` tells the user what Telegram said.
 */
import type { Api } from 'grammy';
import type { ReplyFormat } from '../../envelope';
import type { DraftOps } from '../stream-relay';
import { classify, toTelegramError } from './errors';
import { render } from './format';
import { abortableDelay, apiSignal } from './wait';

/** Where a reply goes. */
export interface ReplyTarget {
  chatId: string;
  /** Forum topic to post in. */
  threadId?: string;
  /** Quote this message (groups). */
  replyToMessageId?: string;
}

export interface OutboundOptions {
  /** How many times to wait out a 429 before giving up. Default 3. */
  maxRateLimitRetries?: number;
  /** A `retry_after` longer than this fails at once rather than blocking the flow. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Aborts waits (redeploy). */
  signal?: AbortSignal;
  /** Told about plain-text fallbacks, so the node can warn once. */
  onMarkupRejected?: (description: string) => void;
}

type SendApi = Pick<Api, 'sendMessage' | 'editMessageText' | 'sendChatAction' | 'deleteMessage'>;

export class TelegramOutbound {
  private readonly maxRetries: number;
  private readonly maxRetryAfterMs: number;

  constructor(
    private readonly api: SendApi,
    private readonly opts: OutboundOptions = {},
  ) {
    this.maxRetries = opts.maxRateLimitRetries ?? 3;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
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

  /** Show "typing…" for about five seconds. */
  async typing(to: ReplyTarget): Promise<void> {
    await this.retrying('sendChatAction', () =>
      this.api.sendChatAction(to.chatId, 'typing', to.threadId ? { message_thread_id: Number(to.threadId) } : {}, apiSignal(this.opts.signal)),
    );
  }

  /** The {@link DraftOps} of one chat, for the shared stream relay. */
  draftOps(to: ReplyTarget, format: ReplyFormat, onMarkupRejected?: (description: string) => void): DraftOps {
    return {
      send: (text) => this.send(to, text, format, onMarkupRejected),
      edit: (id, text) => this.edit(to, id, text, format, onMarkupRejected),
      typing: () => this.typing(to),
      remove: async (id) => {
        await this.api.deleteMessage(to.chatId, Number(id));
      },
    };
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

  /** Run `fn`, waiting out 429s; throw a TelegramError otherwise. */
  private async retrying<T>(method: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const f = classify(err);
        if (f.kind !== 'rate-limited' || attempt >= this.maxRetries || (f.retryAfterMs ?? 0) > this.maxRetryAfterMs) {
          throw toTelegramError(method, err);
        }
        await abortableDelay(f.retryAfterMs ?? 1000, this.opts.signal);
      }
    }
  }
}
