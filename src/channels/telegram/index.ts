/**
 * The Telegram channel: one client per bot token ({@link TelegramClient}), the update ->
 * envelope adapter, and reply sending. No Node-RED import; nodes/telegram-*.ts are the skin.
 */
export { TelegramClient, type ClientStatus, type ClientState, type InboundEvent, type TelegramClientOptions } from './client';
export { adaptUpdate, isAddressed, MalformedUpdateError, type BotIdentity } from './inbound';
export { TelegramOutbound, type ReplyTarget } from './outbound';
export { render, markdownToHtml, escapeHtml, htmlToPlain } from './format';
export { classify, redactTokens, TelegramError, toTelegramError, type Failure, type FailureKind } from './errors';
export { claimToken, DuplicateTokenError } from './token-registry';
export { deriveWebhookSecret, checkWebhookSecret, webhookUrl, SECRET_HEADER } from './webhook';
export { Poller, type PollerEvent, type PollerState } from './poller';
export { offsetStoreFor, removeStaleTempFiles, setAsideCorruptFile, type OffsetStore } from './offsets';

/** Telegram's message length limit, in UTF-16 code units (after markup is parsed). */
export const TELEGRAM_TEXT_LIMIT = 4096;
export type { TelegramBotConfig, TelegramBotUser, NodeStatusLike } from './config-contract';
