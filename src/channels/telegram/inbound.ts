/**
 * Telegram update -> chat envelope. Pure: no network, no Node-RED. The one place that knows
 * Telegram's message shape, so the route filter and everything after it only see `msg.chat`.
 *
 * `mentioned` follows Telegram's own addressing rules (see {@link isAddressed}); commands keep
 * their name without a `@botname` suffix, and a command for another bot is not ours.
 *
 * Untrusted input is bounded here (decision 0230): text longer than {@link MAX_INBOUND_TEXT}
 * is cut and flagged (`truncated`, with the original length in `extras.textLength`), and a
 * message in a chat without a sender (`from`) is malformed, never "from the chat".
 */
import { boundText, MAX_INBOUND_TEXT, type Attachment, type ChatEnvelope, type ChatCommand, type ReplyRef } from '../../envelope';

/** The bot as getMe describes it: enough to recognise mentions of it. */
export interface BotIdentity {
  id: number;
  username: string;
}

/** Telegram's envelope is the shared one (`truncated` included). */
export type TelegramEnvelope = ChatEnvelope;

/** Raised for an update that does not have the shape the Bot API documents. */
export class MalformedUpdateError extends Error {
  constructor(
    message: string,
    readonly updateId?: number,
  ) {
    super(message);
    this.name = 'MalformedUpdateError';
  }
}

export type AdaptResult = { kind: 'message'; envelope: TelegramEnvelope } | { kind: 'skip'; reason: string };

type Obj = Record<string, any>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** The update_id of an update, or throw: without it the offset cannot move past it. */
export function updateIdOf(update: unknown): number {
  if (!isObj(update) || !isInt(update.update_id)) {
    throw new MalformedUpdateError(`update without an integer update_id: ${preview(update)}`);
  }
  return update.update_id;
}

/**
 * Turn one update into an envelope, or say why it is not a chat message for us.
 * Throws {@link MalformedUpdateError} for updates that break the documented shape.
 */
export function adaptUpdate(update: unknown, me: BotIdentity): AdaptResult {
  const updateId = updateIdOf(update);
  const u = update as Obj;
  const edited = u.message === undefined && u.edited_message !== undefined;
  const m = edited ? u.edited_message : u.message;
  if (m === undefined) return { kind: 'skip', reason: `update type ${Object.keys(u).filter((k) => k !== 'update_id').join(',') || 'empty'}` };
  checkMessage(m, updateId);

  const fullText: string = typeof m.text === 'string' ? m.text : typeof m.caption === 'string' ? m.caption : '';
  const text = boundText(fullText);
  const entities: Obj[] = Array.isArray(m.entities) ? m.entities : Array.isArray(m.caption_entities) ? m.caption_entities : [];
  const attachments = attachmentsOf(m);
  if (!text && attachments.length === 0) return { kind: 'skip', reason: 'service message without text or media' };

  const chatType = m.chat.type === 'private' ? 'direct' : 'group';
  if (m.chat.type === 'channel') return { kind: 'skip', reason: 'channel post' };
  // Outside channels Telegram always names a sender (a stand-in user for anonymous admins and
  // posts on behalf of a chat). Without one the sender is unknown: never take the chat's id.
  if (!isObj(m.from) || !isInt(m.from.id)) {
    throw new MalformedUpdateError(`update ${updateId}: message in a ${String(m.chat.type)} chat without a sender (no from.id); ignored`, updateId);
  }
  const from: Obj = m.from;
  // An anonymous admin writes as the group itself: `from` is Telegram's stand-in bot, and
  // sender_chat is this chat. A person, not a bot; the group is the only identity there is.
  const asGroup = isObj(m.sender_chat) && m.sender_chat.id === m.chat.id && chatType === 'group';
  const replyTo = replyOf(m, me);
  const cmd = commandOf(text, entities);
  const command: ChatCommand | undefined = cmd && (!cmd.target || sameName(cmd.target, me.username)) ? { name: cmd.name, args: cmd.args } : undefined;
  // Entities count in the full text; a slice per entity, so its length costs nothing here.
  const mentioned = chatType === 'direct' || isAddressed(fullText, entities, me, replyTo, cmd?.target);

  const envelope: TelegramEnvelope = {
    channel: 'telegram',
    account: String(me.id),
    chatId: String(m.chat.id),
    chatType,
    senderId: asGroup ? String(m.chat.id) : String(from.id),
    senderName: asGroup ? (typeof m.author_signature === 'string' && m.author_signature ? m.author_signature : nameOf(m.chat)) : nameOf(from) ?? nameOf(m.chat),
    senderIsBot: !asGroup && from.is_bot === true,
    text,
    messageId: String(m.message_id),
    mentioned,
    attachments,
    timestamp: (isInt(m.edit_date) && edited ? m.edit_date : m.date) * 1000,
    extras: {
      updateId,
      ...(text.length < fullText.length ? { textLength: fullText.length } : {}),
      ...(typeof m.chat.title === 'string' ? { chatTitle: m.chat.title } : {}),
      ...(typeof from.username === 'string' ? { senderUsername: from.username } : {}),
      ...(typeof from.language_code === 'string' ? { languageCode: from.language_code } : {}),
    },
  };
  if (m.is_topic_message === true && isInt(m.message_thread_id)) envelope.threadId = String(m.message_thread_id);
  if (replyTo) envelope.replyTo = replyTo;
  if (command) envelope.command = command;
  if (edited) envelope.edited = true;
  if (text.length < fullText.length) envelope.truncated = true;
  return { kind: 'message', envelope };
}

function checkMessage(m: unknown, updateId: number): asserts m is Obj {
  const bad = (what: string) => new MalformedUpdateError(`update ${updateId}: ${what}`, updateId);
  if (!isObj(m)) throw bad('message is not an object');
  if (!isInt(m.message_id)) throw bad('message has no integer message_id');
  if (!isObj(m.chat) || !isInt(m.chat.id) || typeof m.chat.type !== 'string') throw bad('message has no chat with an id and type');
  if (!isInt(m.date)) throw bad('message has no date');
  if (m.text !== undefined && typeof m.text !== 'string') throw bad('message text is not a string');
  if (m.caption !== undefined && typeof m.caption !== 'string') throw bad('message caption is not a string');
  for (const key of ['entities', 'caption_entities']) {
    if (m[key] !== undefined && !(Array.isArray(m[key]) && m[key].every((e: unknown) => isObj(e) && isInt(e.offset) && isInt(e.length)))) {
      throw bad(`message ${key} is not a list of entities`);
    }
  }
}

/**
 * Telegram's addressing rules for groups: a `mention` entity naming the bot's @username, a
 * `text_mention` of the bot's user id, a reply to one of the bot's messages, or a command
 * suffixed with the bot's name (`/help@my_bot`).
 */
export function isAddressed(text: string, entities: Obj[], me: BotIdentity, replyTo?: ReplyRef, commandTarget?: string): boolean {
  if (replyTo?.fromBot) return true;
  if (commandTarget && sameName(commandTarget, me.username)) return true;
  for (const e of entities) {
    if (e.type === 'mention') {
      // offset/length count UTF-16 units, which is what String#slice counts.
      const name = text.slice(e.offset, e.offset + e.length).replace(/^@/, '');
      if (sameName(name, me.username)) return true;
    } else if (e.type === 'text_mention' && isObj(e.user) && e.user.id === me.id) {
      return true;
    }
  }
  return false;
}

const COMMAND = /^\/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)/;

/** A leading command, with the bot it names (if any). */
function commandOf(text: string, entities: Obj[]): { name: string; target?: string; args: string } | undefined {
  const hasEntity = entities.some((e) => e.type === 'bot_command' && e.offset === 0);
  // Telegram always marks commands with an entity; without one it is text that starts with "/".
  if (!hasEntity && entities.length > 0) return undefined;
  const m = COMMAND.exec(text);
  if (!m) return undefined;
  return { name: m[1].toLowerCase(), target: m[2], args: text.slice(m[0].length).trim() };
}

function replyOf(m: Obj, me: BotIdentity): ReplyRef | undefined {
  const r = m.reply_to_message;
  if (!isObj(r) || !isInt(r.message_id)) return undefined;
  // In forum topics every message "replies" to the topic's creation message: not a real reply.
  if (m.is_topic_message === true && r.message_id === m.message_thread_id) return undefined;
  const from: Obj = isObj(r.from) ? r.from : {};
  const ref: ReplyRef = { messageId: String(r.message_id), fromBot: from.id === me.id };
  if (isInt(from.id)) ref.senderId = String(from.id);
  const text = typeof r.text === 'string' ? r.text : typeof r.caption === 'string' ? r.caption : undefined;
  if (text !== undefined) ref.text = boundText(text);
  return ref;
}

function attachmentsOf(m: Obj): Attachment[] {
  const caption = typeof m.caption === 'string' ? boundText(m.caption) : undefined;
  const out: Attachment[] = [];
  const file = (kind: Attachment['kind'], f: unknown) => {
    if (!isObj(f)) return;
    const a: Attachment = { kind };
    if (typeof f.file_id === 'string') a.id = f.file_id;
    if (typeof f.file_name === 'string') a.name = f.file_name;
    if (typeof f.mime_type === 'string') a.mimeType = f.mime_type;
    if (isInt(f.file_size)) a.size = f.file_size;
    if (caption !== undefined) a.caption = caption;
    out.push(a);
  };
  if (Array.isArray(m.photo) && m.photo.length) {
    // Sizes come smallest first; the last one is the original.
    file('image', m.photo[m.photo.length - 1]);
  }
  file('document', m.animation ? undefined : m.document);
  file('video', m.animation);
  file('audio', m.audio);
  file('voice', m.voice);
  file('video', m.video);
  file('video', m.video_note);
  file('sticker', m.sticker);
  if (isObj(m.location)) out.push({ kind: 'location', name: `${m.location.latitude},${m.location.longitude}` });
  if (isObj(m.contact)) out.push({ kind: 'contact', name: [m.contact.first_name, m.contact.last_name].filter(Boolean).join(' ') });
  return out;
}

function nameOf(o: Obj): string | undefined {
  if (!isObj(o)) return undefined;
  const full = [o.first_name, o.last_name].filter((s) => typeof s === 'string' && s).join(' ');
  return full || (typeof o.username === 'string' ? o.username : undefined) || (typeof o.title === 'string' ? o.title : undefined);
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
}
