/**
 * Envelopes as the channel-in adapters emit them (see src/envelope.ts): Telegram (numeric ids,
 * negative supergroup ids, replies to the bot), Discord (snowflakes, guild id as groupId,
 * threads) and web chat (one peer per browser session, always direct).
 */
import type { ChatEnvelope } from '../../../src/envelope';

let seq = 1000;

export const TG_BOT = '7000000001';
export const DC_BOT = '1180000000000000001';
export const WC_ACCOUNT = 'webchat-config-1';

/** A Telegram private chat: chat id equals the user id. */
export function telegramDm(senderId: string, text = 'hello', extra: Partial<ChatEnvelope> = {}): ChatEnvelope {
  return {
    channel: 'telegram',
    account: TG_BOT,
    chatId: senderId,
    chatType: 'direct',
    senderId,
    senderName: `tg user ${senderId}`,
    text,
    messageId: String(seq++),
    mentioned: true,
    attachments: [],
    timestamp: 1_700_000_000_000,
    ...extra,
  };
}

/** A Telegram supergroup message; `mentioned` as the adapter computed it from entities. */
export function telegramGroup(
  senderId: string,
  opts: { chatId?: string; mentioned?: boolean; replyToBot?: boolean; command?: ChatEnvelope['command']; text?: string } = {},
): ChatEnvelope {
  const env: ChatEnvelope = {
    channel: 'telegram',
    account: TG_BOT,
    chatId: opts.chatId ?? '-1001234567890',
    chatType: 'group',
    senderId,
    senderName: `tg user ${senderId}`,
    text: opts.text ?? 'some group chatter',
    messageId: String(seq++),
    mentioned: opts.mentioned ?? false,
    attachments: [],
    timestamp: 1_700_000_000_000,
  };
  if (opts.replyToBot) env.replyTo = { messageId: '77', senderId: TG_BOT, fromBot: true, text: 'earlier answer' };
  if (opts.command) env.command = opts.command;
  return env;
}

/** A Discord DM channel message. */
export function discordDm(senderId: string, text = 'hi', extra: Partial<ChatEnvelope> = {}): ChatEnvelope {
  return {
    channel: 'discord',
    account: DC_BOT,
    chatId: '1190000000000000' + senderId.slice(-3),
    chatType: 'direct',
    senderId,
    senderName: `dc user ${senderId}`,
    text,
    messageId: String(seq++),
    mentioned: true,
    attachments: [],
    timestamp: 1_700_000_000_000,
    ...extra,
  };
}

/** A Discord guild text channel (or thread) message. */
export function discordGuild(
  senderId: string,
  opts: { channelId?: string; guildId?: string; threadId?: string; mentioned?: boolean; replyToBot?: boolean; text?: string } = {},
): ChatEnvelope {
  const env: ChatEnvelope = {
    channel: 'discord',
    account: DC_BOT,
    chatId: opts.channelId ?? '1200000000000000001',
    chatType: 'group',
    groupId: opts.guildId ?? '1100000000000000001',
    senderId,
    senderName: `dc user ${senderId}`,
    text: opts.text ?? 'chatter',
    messageId: String(seq++),
    mentioned: opts.mentioned ?? false,
    attachments: [],
    timestamp: 1_700_000_000_000,
  };
  if (opts.threadId) env.threadId = opts.threadId;
  if (opts.replyToBot) env.replyTo = { messageId: '1300000000000000001', senderId: DC_BOT, fromBot: true };
  return env;
}

/** A web chat message: the browser session's peer id is both chat and sender. */
export function webchat(peerId: string, text = 'hey'): ChatEnvelope {
  return {
    channel: 'webchat',
    account: WC_ACCOUNT,
    chatId: peerId,
    chatType: 'direct',
    senderId: peerId,
    text,
    messageId: String(seq++),
    mentioned: true,
    attachments: [],
    timestamp: 1_700_000_000_000,
  };
}

/** A `/pair ...` command as the adapters parse it. */
export function pairCommand(args: string): ChatEnvelope['command'] {
  return { name: 'pair', args };
}

/** A clock tests move by hand. */
export function fakeClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}
