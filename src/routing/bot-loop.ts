/**
 * Bot loop protection: two bots in one group that answer each other never stop by
 * themselves (and each answer of ours costs an LLM call). Messages from a bot sender in a
 * group are counted per pair (group, that bot, our account) in a fixed window; over the
 * limit the loop is cut until the window ends.
 *
 * The counting is the flood gate's (fixed windows, one "notify" per window, no timers): the
 * pair is just another key. Its `notify` becomes the one warning per window.
 */
import type { ChatEnvelope } from '../envelope';
import { FloodGate } from './flood-gate';
import type { BotLoopPair } from './types';

export interface BotLoopOptions {
  /** Exchanges per window per pair; 0 turns the protection off. */
  limit: number;
  windowMs: number;
}

export type BotLoopVerdict =
  | { allowed: true }
  /** `warn` is true once per window, for the first message cut. */
  | { allowed: false; warn: boolean; retryAfterMs: number; pair: BotLoopPair };

export class BotLoopGuard {
  private readonly gate: FloodGate;

  constructor(readonly opts: BotLoopOptions) {
    this.gate = new FloodGate(opts);
  }

  get enabled(): boolean {
    return this.gate.enabled;
  }

  /** Whether `chat` is a message this guard counts: from a bot, in a group. */
  applies(chat: ChatEnvelope): boolean {
    return this.enabled && chat.chatType === 'group' && chat.senderIsBot === true;
  }

  /** Count one exchange of the pair `chat` belongs to. Call only when {@link applies}. */
  hit(chat: ChatEnvelope, now: number): BotLoopVerdict {
    const key = `${chat.channel}:${chat.account}:${chat.chatId}:${chat.senderId}`;
    const v = this.gate.hit(key, now);
    if (v.allowed) return v;
    return {
      allowed: false,
      warn: v.notify,
      retryAfterMs: v.retryAfterMs,
      pair: {
        channel: chat.channel,
        account: chat.account,
        chatId: chat.chatId,
        botId: chat.senderId,
        ...(chat.senderName ? { botName: chat.senderName } : {}),
      },
    };
  }
}
