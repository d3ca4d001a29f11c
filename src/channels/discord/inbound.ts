/**
 * A discord.js `Message` as the clawflow chat envelope. Mention rules are Discord's own: the
 * bot is addressed when its user (or its managed role) is in the message's mentions or the
 * message replies to one of the bot's messages; a DM always addresses it. The bot's leading
 * `<@id>` (or `<@&role>`) is taken off the text (it is addressing, not content), other mentions
 * stay. Text longer than {@link MAX_INBOUND_TEXT} is cut there and the envelope says
 * `truncated: true`.
 */
import { ChannelType, type Message } from 'discord.js';
import { boundText, MAX_INBOUND_TEXT, type Attachment, type ChatCommand, type ChatEnvelope, type ReplyRef } from '../../envelope';

export interface InboundOptions {
  /** Accept messages from other bots (the bot's own messages are always dropped). */
  allowBots?: boolean;
}

/** A message as discord.js hands it over; nodes/ name it through this, not discord.js. */
export type DiscordMessage = Message;

/** Discord's envelope is the shared one (`truncated` included). */
export type DiscordEnvelope = ChatEnvelope;

/**
 * Why a message was not turned into an envelope. `malformed`: the packet lacked what every
 * message has; `problem` says what (a key nodes translate).
 */
export type SkipReason = 'own' | 'bot' | 'system' | 'empty' | 'malformed';

/** What a `malformed` message lacked: an author, or content that is text. */
export type MalformedProblem = 'no-author' | 'content-not-text';

export type InboundResult = { envelope: DiscordEnvelope } | { skipped: Exclude<SkipReason, 'malformed'> } | { skipped: 'malformed'; problem: MalformedProblem };

/** Turn `message` into an envelope, or say why it is skipped. `botId` is the bot's user id. */
export function toEnvelope(message: Message, botId: string, opts: InboundOptions = {}): InboundResult {
  // discord.js passes on a MESSAGE_CREATE without `author` (it sets null) or with a content
  // that is not text; neither comes from Discord, and neither may throw further down.
  const author = message.author as Message['author'] | null | undefined;
  if (!author || typeof author.id !== 'string') return { skipped: 'malformed', problem: 'no-author' };
  if (message.content != null && typeof message.content !== 'string') return { skipped: 'malformed', problem: 'content-not-text' };
  if (message.author.id === botId) return { skipped: 'own' };
  // A webhook's message is automation (another bot, a CI hook), whether or not its author
  // object carries `bot`: Discord documents `webhook_id` as the way to tell.
  const fromBot = message.author.bot || !!message.webhookId;
  if (fromBot && !opts.allowBots) return { skipped: 'bot' };
  if (message.system) return { skipped: 'system' };

  const channel = message.channel;
  const direct = channel.type === ChannelType.DM || !message.guildId;
  const inThread = !direct && channel.isThread();
  // Discord gives every bot a managed role of the same name, and the @-autocomplete often picks
  // that role: `<@&role>` addresses the bot as much as `<@bot>` does.
  const botRoles = direct ? [] : [...message.mentions.roles.values()].filter((r) => r.tags?.botId === botId).map((r) => r.id);
  const addressing = [`!?${botId}`, ...botRoles.map((id) => `&${id}`)];
  const leading = new RegExp(`^\\s*<@(?:${addressing.join('|')})>[\\s,:]*`);
  const raw = message.content ?? '';
  const whole = raw.replace(leading, '');
  const text = boundText(whole);
  const attachments = [...message.attachments.values()].map(toAttachment);
  if (!text.trim() && attachments.length === 0) return { skipped: 'empty' };

  const replyTo = replyRef(message, botId);
  const mentioned = direct || message.mentions.users.has(botId) || botRoles.length > 0 || !!replyTo?.fromBot;
  const extras: Record<string, unknown> = {};
  if (inThread) extras.parentChannelId = channel.parentId;
  if (message.guild?.name) extras.guildName = message.guild.name;
  if ('name' in channel && channel.name) extras.channelName = channel.name;

  const envelope: DiscordEnvelope = {
    channel: 'discord',
    account: botId,
    chatId: channel.id,
    chatType: direct ? 'direct' : 'group',
    senderId: message.author.id,
    senderName: message.member?.displayName ?? message.author.globalName ?? message.author.username,
    senderIsBot: fromBot,
    text,
    messageId: message.id,
    mentioned,
    attachments,
    timestamp: message.createdTimestamp,
    extras,
  };
  if (inThread) envelope.threadId = channel.id;
  // Replies go to the thread itself (chatId); the allowlist names the parent channel.
  if (inThread && channel.parentId) envelope.parentChatId = channel.parentId;
  if (!direct && message.guildId) envelope.groupId = message.guildId;
  if (replyTo) envelope.replyTo = replyTo;
  const command = parseCommand(text);
  if (command) envelope.command = command;
  if (message.editedTimestamp) envelope.edited = true;
  if (text.length < whole.length) {
    envelope.truncated = true;
    extras.textLength = whole.length;
  }
  return { envelope };
}


/** `/new`, `/pair approve X`: plain-text commands (not Discord slash interactions). */
export function parseCommand(text: string): ChatCommand | undefined {
  const m = /^\/([A-Za-z0-9_-]+)(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return undefined;
  return { name: m[1].toLowerCase(), args: (m[2] ?? '').trim() };
}

function replyRef(message: Message, botId: string): ReplyRef | undefined {
  const id = message.reference?.messageId;
  if (!id) return undefined;
  // discord.js caches `referenced_message` and records its author as `mentions.repliedUser`.
  const referenced = message.channel.messages.cache.get(id);
  const author = referenced?.author ?? message.mentions.repliedUser ?? undefined;
  const ref: ReplyRef = { messageId: id };
  if (author) {
    ref.senderId = author.id;
    ref.fromBot = author.id === botId;
  }
  if (typeof referenced?.content === 'string' && referenced.content) ref.text = boundText(referenced.content);
  return ref;
}

function toAttachment(a: { id: string; url: string; name: string; contentType: string | null; size: number }): Attachment {
  const type = a.contentType ?? '';
  const kind: Attachment['kind'] = type.startsWith('image/') ? 'image' : type.startsWith('audio/') ? 'audio' : type.startsWith('video/') ? 'video' : 'document';
  const out: Attachment = { kind, id: a.id, url: a.url, name: a.name, size: a.size };
  if (a.contentType) out.mimeType = a.contentType;
  return out;
}
