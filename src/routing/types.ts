/**
 * Types of the route filter: the Channel layer's access rules (DM policy, pairing, group
 * mention gating, flood control). Plain data, so the node, tests and third-party code agree
 * on the same words for every decision.
 */
import type { ChatEnvelope } from '../envelope';

/** How direct messages are admitted. `pairing` is the default because it is the safe one. */
export type DmPolicy = 'pairing' | 'allowlist' | 'open' | 'disabled';
export const DM_POLICIES: readonly DmPolicy[] = ['pairing', 'allowlist', 'open', 'disabled'];

/** How group chats are admitted. Mention gating applies on top of `open` and `allowlist`. */
export type GroupPolicy = 'open' | 'allowlist' | 'disabled';
export const GROUP_POLICIES: readonly GroupPolicy[] = ['open', 'allowlist', 'disabled'];

/**
 * Why a message did not pass (`msg.reason`). Machine-readable and stable: flows switch on
 * these, so a value is never renamed.
 */
export type RejectReason =
  | 'dm_disabled'
  | 'not_allowlisted'
  | 'pairing_required'
  | 'pairing_pending'
  | 'pairing_queue_full'
  | 'group_disabled'
  | 'group_not_allowed'
  | 'not_mentioned'
  | 'rate_limited'
  | 'pairing_command'
  | 'bot_loop'
  | 'handled_elsewhere';

/** Reasons of the control answers (approve / revoke / list) that leave on output 2 too. */
export type ControlReason = 'pairing_approved' | 'pairing_revoked' | 'pairing_list';

/** Why a message passed (`msg.route.reason` on output 1). */
export type AcceptReason = 'owner' | 'paired' | 'allowlisted' | 'open' | 'group';

/**
 * Text for the user, as an i18n key (under `replies.`) and its parameters; `text` is the
 * rendered string, ready for `msg.payload`.
 */
export interface ReplyText {
  key: string;
  params: Record<string, string | number>;
  text: string;
}

/** Who is looping with whom, for the warning and the status. */
export interface BotLoopPair {
  channel: string;
  /** Our bot account. */
  account: string;
  chatId: string;
  /** The other bot. */
  botId: string;
  botName?: string;
}

/** How a group message was found to address the bot (`msg.route.mention`). */
export type MentionKind = 'platform' | 'reply' | 'pattern' | 'not_required';

/**
 * One group message that did not mention the bot, kept as context for the next one that
 * does. Handed on as `msg.groupContext` (an array of these, oldest first); the session
 * gateway shows them to the model marked as group context, never as turns.
 */
export interface GroupContextEntry {
  senderId: string;
  senderName?: string;
  text: string;
  /** When the platform says it was sent (ms since the epoch). */
  ts: number;
}

/** The message passes: send it on to the session gateway. */
export interface Accepted {
  accept: true;
  reason: AcceptReason;
  /** Groups only: how the message addressed the bot. */
  mention?: MentionKind;
  /** Groups only: the unmentioned messages since the bot was last addressed there. */
  groupContext?: GroupContextEntry[];
}

/** The message stops here; `reply`, when present, goes back to the same chat. */
export interface Rejected {
  accept: false;
  reason: RejectReason;
  reply?: ReplyText;
  /** The pairing request this decision issued or repeated (pairing_required / pairing_pending). */
  pairing?: PendingRequest;
  /** Extra messages an owner command causes, e.g. the "you are approved" notice to the requester. */
  notices?: Notice[];
  /** `bot_loop`: the pair that was cut, and whether this is the first cut of the window (warn once). */
  botLoop?: { pair: BotLoopPair; warn: boolean; retryAfterMs: number };
}

export type Decision = Accepted | Rejected;

/** A message to some other chat than the one being answered (the approved requester's). */
export interface Notice {
  /** A complete envelope of the recipient's direct chat, so a channel-out node can send to it. */
  chat: ChatEnvelope;
  reason: ControlReason;
  reply: ReplyText;
}

/** A stranger's request to be let in, waiting for the owner. */
export interface PendingRequest {
  code: string;
  channel: string;
  senderId: string;
  senderName?: string;
  /** Where to send the "approved" notice. */
  account: string;
  chatId: string;
  createdAt: number;
  expiresAt: number;
}

/** A peer the owner approved. Persisted; survives restarts and redeploys. */
export interface ApprovedPeer {
  channel: string;
  senderId: string;
  senderName?: string;
  approvedAt: number;
  /** `channel:senderId` of the owner who approved, or `input` for an approval by message. */
  approvedBy: string;
  /** Where the requester was, kept so an approval can notify them. */
  account?: string;
  chatId?: string;
}

/** Renders a reply: key under `replies.` plus parameters. The node passes RED._. */
export type Translate = (key: string, params: Record<string, string | number>) => string;
