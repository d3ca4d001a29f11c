/**
 * Simulated Telegram users on the loopback fake Bot API (test/fakes/telegram-bot-api.ts): each
 * user has a private chat with the bot, "says" a message (queued as an update and handed to
 * the bot's long poll) and waits until the bot's message in that chat holds the complete
 * expected reply (streamed drafts are edited in place, so the final text is the signal).
 */
import type { FakeTelegram, SentMessage } from '../../test/fakes/telegram-bot-api';
import { now } from './stats';

export interface TelegramAnswer {
  text: string;
  sentAt: number;
  doneAt: number;
}

export class TelegramUser {
  constructor(
    private readonly tg: FakeTelegram,
    readonly id: number,
  ) {}

  /** Send `text`; resolve when a bot message in this chat satisfies `complete`. */
  async ask(text: string, complete: (visible: string) => boolean, timeoutMs: number): Promise<TelegramAnswer> {
    const sentAt = now();
    this.tg.userSays(text, {
      chat: { id: this.id, type: 'private' },
      from: { id: this.id, is_bot: false, first_name: `User${this.id}` },
    });
    const m: SentMessage = await this.tg.waitForSent((s) => s.chatId === this.id && complete(s.text), timeoutMs);
    return { text: m.text, sentAt, doneAt: now() };
  }
}
