/**
 * The chat envelope: the one shape every layer shares.
 *
 * A channel-in node turns a platform event into a {@link ChatEnvelope} on `msg.chat` (and the
 * text on `msg.payload`). Route filter, session gateway and llm read it; a channel-out node
 * replies to the chat it names. Platform specifics that no other layer needs go in `extras`.
 * Nothing here imports a platform or provider library.
 */

/** `direct`: a one-to-one chat with the bot (a DM). `group`: anything with more members. */
export type ChatType = 'direct' | 'group';

/** Metadata of a file or media item that came with a message. Content is never downloaded. */
export interface Attachment {
  kind: 'image' | 'audio' | 'voice' | 'video' | 'document' | 'sticker' | 'location' | 'contact' | 'other';
  /** Platform file id (Telegram file_id, Discord attachment id). */
  id?: string;
  /** A URL the platform serves the file at, when it gives one (Discord). */
  url?: string;
  name?: string;
  mimeType?: string;
  /** Size in bytes, when known. */
  size?: number;
  caption?: string;
}

/** The message this one replies to, as far as the platform tells us. */
export interface ReplyRef {
  messageId: string;
  senderId?: string;
  /** True when the replied-to message was sent by this bot. Counts as a mention in groups. */
  fromBot?: boolean;
  text?: string;
}

/** A command addressed to the bot: `/new`, `/pair approve ABC123`. */
export interface ChatCommand {
  /** Lower-case name without the slash or a `@botname` suffix. */
  name: string;
  /** Everything after the command, trimmed. */
  args: string;
}

/** An inbound chat message, on `msg.chat`. */
export interface ChatEnvelope {
  /** Platform name: `telegram`, `discord`, `webchat`, or a third-party channel's name. */
  channel: string;
  /** The bot account that received it (bot user id, or the web chat config id). */
  account: string;
  /** The chat to reply to (Telegram chat id, Discord channel id, web chat peer id). */
  chatId: string;
  chatType: ChatType;
  /** Thread/topic inside the chat, when the platform has one (Discord thread, Telegram topic). */
  threadId?: string;
  /**
   * The chat a thread belongs to, when the thread is a chat of its own (a Discord thread: its
   * `chatId` is the thread's channel id). A group allowlist that lists the parent admits it.
   */
  parentChatId?: string;
  /** Group/guild id for group chats, when different from chatId (Discord guild). */
  groupId?: string;
  senderId: string;
  senderName?: string;
  /** The sender is a bot account. Channel-in nodes drop bot messages unless told otherwise. */
  senderIsBot?: boolean;
  /** The message text (caption for media). Also on `msg.payload`. */
  text: string;
  /** Platform message id, for reply references and edits. */
  messageId?: string;
  replyTo?: ReplyRef;
  /**
   * Whether the message addresses the bot, by the platform's own rules (mention entity,
   * reply to the bot, `/cmd@bot`). Always true in direct chats. The route filter trusts it.
   */
  mentioned: boolean;
  command?: ChatCommand;
  /** An edit of an earlier message. */
  edited?: boolean;
  /** The text was longer than {@link MAX_INBOUND_TEXT} and was cut there ({@link boundText}). */
  truncated?: boolean;
  attachments: Attachment[];
  /** When the platform says it was sent, in ms since the epoch. */
  timestamp: number;
  /** Raw platform extras that only that platform's out node needs. */
  extras?: Record<string, unknown>;
}

/** Text formatting of an outbound reply; a channel escapes or converts to its own markup. */
export type ReplyFormat = 'plain' | 'markdown' | 'html';

/** An outbound reply as channel-out nodes read it: `msg.payload` text to `msg.chat`. */
export interface OutboundReply {
  text: string;
  format?: ReplyFormat;
  /** Reply to this message id (channel-out nodes do this in groups by default). */
  replyToMessageId?: string;
}

/**
 * Streaming on the wire (see docs/decisions/0001-streaming-on-msg.md).
 *
 * The llm node sends partial messages out of the same output as its final reply, so one wire
 * llm -> session end -> channel out carries both. A partial has `msg.stream.done === false` and
 * `msg.payload` = the text so far; the final message has `msg.stream.done === true` and the
 * complete text. All messages of one reply share `msg.stream.id`. The first partial of a turn
 * may carry empty text: a channel-out shows "typing" for it. Nodes that close a turn (session
 * end) pass partials through untouched and act only on the final message.
 */
export interface StreamInfo {
  /** Same for every partial and the final message of one reply. */
  id: string;
  /** 0, 1, 2, ... in order of emission. */
  seq: number;
  /** Text added since the previous partial. */
  delta: string;
  done: boolean;
}

/** True if `msg` is a streamed partial (not the final reply). */
export function isPartial(msg: { stream?: StreamInfo }): boolean {
  return !!msg.stream && msg.stream.done === false;
}

/** Thrown (or reported) when a message lacks a usable envelope. */
export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const REQUIRED: (keyof ChatEnvelope)[] = ['channel', 'account', 'chatId', 'chatType', 'senderId'];

/**
 * Check that `value` is a chat envelope and return it typed; otherwise throw an
 * {@link EnvelopeError} that names what is missing and where it should come from.
 */
export function requireEnvelope(value: unknown, where = 'msg.chat'): ChatEnvelope {
  if (!value || typeof value !== 'object') {
    throw new EnvelopeError(
      `${where} is missing: this node needs the chat envelope that a clawflow channel-in node (telegram in, discord in, webchat in) puts on msg.chat`,
    );
  }
  const env = value as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => env[k] === undefined || env[k] === null || env[k] === '');
  if (missing.length) {
    throw new EnvelopeError(`${where} is not a chat envelope: missing ${missing.map((k) => `${where}.${k}`).join(', ')}`);
  }
  if (env.chatType !== 'direct' && env.chatType !== 'group') {
    throw new EnvelopeError(`${where}.chatType must be "direct" or "group", got ${JSON.stringify(env.chatType)}`);
  }
  const chat = env as unknown as ChatEnvelope;
  if (typeof chat.text !== 'string') chat.text = chat.text == null ? '' : String(chat.text);
  if (!Array.isArray(chat.attachments)) chat.attachments = [];
  if (typeof chat.mentioned !== 'boolean') chat.mentioned = chat.chatType === 'direct';
  if (typeof chat.timestamp !== 'number') chat.timestamp = Date.now();
  return chat;
}

/**
 * The longest text (or caption, or quoted reply) a channel-in node passes on, in UTF-16 units.
 * Platforms cap a message far below it (Telegram 4,096, Discord 4,000), so a real message is
 * never cut; only a proxy or a hostile API root sends more, and that must not reach the model
 * whole (decision 0190: fixed bounds on untrusted input).
 */
export const MAX_INBOUND_TEXT = 16_384;

/** `text` cut to `max` UTF-16 units, never between the two halves of a surrogate pair. */
export function boundText(text: string, max = MAX_INBOUND_TEXT): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

/**
 * Words for what a message carries besides text, for a model that only reads text:
 * `[sticker]`, `[image]`, `[document report.pdf]`. Empty when there are no attachments.
 */
export function describeAttachments(attachments: readonly Attachment[]): string {
  return attachments
    .slice(0, 10)
    .map((a) => `[${a.kind}${a.name ? ` ${String(a.name).slice(0, 100)}` : ''}]`)
    .join(' ');
}

/** A stable string naming one peer on one bot account: `telegram:123456:42`. */
export function peerAddress(chat: Pick<ChatEnvelope, 'channel' | 'account' | 'senderId'>): string {
  return `${chat.channel}:${chat.account}:${chat.senderId}`;
}
