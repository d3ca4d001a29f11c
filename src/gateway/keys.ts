/**
 * Session keys: which messages share one conversation.
 *
 * Default `per-channel-peer`: one session per channel + bot account + person, so the same
 * person on Telegram and on Discord has two sessions (the platforms' user ids are unrelated
 * anyway). Groups get one session per group chat (and thread), or one per member of the group.
 *
 * | scheme | direct chat | group (`per-group`) | group (`per-member`) |
 * | --- | --- | --- | --- |
 * | `per-channel-peer` | `telegram:<bot>:dm:<sender>` | `telegram:<bot>:group:<chat>[:<thread>]` | `…:group:<chat>[:<thread>]:member:<sender>` |
 * | `per-account` | `telegram:<bot>:main` (one session per bot account for everyone) | same | same |
 * | `template` | the template with `{channel} {account} {chatId} {chatType} {threadId} {groupId} {senderId}` filled in | | |
 */
import type { ChatEnvelope } from '../envelope';
import { linkedPerson, type IdentityLinks } from './identity';

export type KeyScheme = 'per-channel-peer' | 'per-account' | 'template';
export type GroupScope = 'per-group' | 'per-member';

export interface KeyOptions {
  scheme?: KeyScheme;
  groupScope?: GroupScope;
  /** Whether a thread/topic of a group is its own session (default true). */
  threads?: boolean;
  /** For scheme `template`, e.g. `{channel}:{chatId}`. */
  template?: string;
  /**
   * Identity links (identity.ts, opt-in): a direct chat from a linked identity uses the
   * person's session `person:<name>`, whatever the channel (scheme `per-channel-peer`).
   */
  links?: IdentityLinks;
}

const FIELDS = ['channel', 'account', 'chatId', 'chatType', 'threadId', 'groupId', 'senderId'] as const;

/** Throws if `template` uses an unknown field or none at all. */
export function checkKeyTemplate(template: string): void {
  const used = [...template.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
  if (!used.length) throw new Error(`session key template "${template}" uses no field; use some of {${FIELDS.join('} {')}}`);
  const bad = used.filter((f) => !(FIELDS as readonly string[]).includes(f));
  if (bad.length) throw new Error(`session key template "${template}" has unknown field(s) {${bad.join('} {')}}; known: {${FIELDS.join('} {')}}`);
}

/** The session key of a message. */
export function sessionKey(chat: ChatEnvelope, opts: KeyOptions = {}): string {
  const scheme = opts.scheme ?? 'per-channel-peer';
  const base = `${chat.channel}:${chat.account}`;
  switch (scheme) {
    case 'per-account':
      return `${base}:main`;
    case 'template': {
      const t = opts.template ?? '';
      checkKeyTemplate(t);
      return t.replace(/\{([^}]*)\}/g, (_, f: string) => String((chat as unknown as Record<string, unknown>)[f] ?? ''));
    }
    case 'per-channel-peer': {
      if (chat.chatType === 'direct') {
        const person = linkedPerson(chat, opts.links);
        return person ? `person:${person}` : `${base}:dm:${chat.senderId}`;
      }
      let k = `${base}:group:${chat.chatId}`;
      if (chat.threadId && opts.threads !== false) k += `:${chat.threadId}`;
      if (opts.groupScope === 'per-member') k += `:member:${chat.senderId}`;
      return k;
    }
    default:
      throw new Error(`unknown session key scheme "${String(scheme)}": use per-channel-peer, per-account or template`);
  }
}

/** True if messages of `chat` share a session with other people (speaker names matter). */
export function isShared(chat: ChatEnvelope, opts: KeyOptions = {}): boolean {
  if ((opts.scheme ?? 'per-channel-peer') === 'per-channel-peer') {
    return chat.chatType === 'group' && opts.groupScope !== 'per-member';
  }
  return true;
}
