/**
 * The route filter: decides for one inbound chat message whether it reaches the session
 * gateway, and if not, why (and what to tell the sender). The Node-RED node is a thin skin
 * over this class; everything here is testable without Node-RED and with an injected clock.
 *
 * Order of the checks (each one can stop the message):
 * 1. groups: group policy, then mention gating (silent: strangers' chatter gets no answer, but
 *    is kept as group context for the next message that mentions the bot), then bot loop
 *    protection for messages from other bots;
 * 2. an owner's `/pair ...` command is handled and answered (never reaches the gateway);
 * 3. direct messages: `disabled`, then the allowlist (silent);
 * 4. flood control per peer (one polite reply per window);
 * 5. pairing: approved peers pass, strangers get a code.
 * Flood control comes after the silent checks so ignored chatter never uses up a peer's
 * budget, and before pairing so a stranger cannot make the bot answer without limit.
 * Messages from bots in groups are counted by the bot loop guard instead of flood control
 * (when it is on): a polite "slow down" reply to a bot is exactly what keeps a loop going.
 * See docs/decisions/0110-group-context-pattern-mentions-bot-loops.md.
 */
import { peerAddress, type ChatEnvelope } from '../envelope';
import type { KeyValueStore } from '../store/kv';
import { BotLoopGuard } from './bot-loop';
import { FloodGate } from './flood-gate';
import { GroupContextBuffer } from './group-context';
import { IdList, parseIdList } from './id-list';
import { PairingBook, type ApproveOutcome, type PairingListing, type RevokeOutcome } from './pairing-book';
import { MentionPatterns, parseMentionPatterns } from './mention-patterns';
import { runPairCommand } from './pair-command';
import type {
  ApprovedPeer,
  Decision,
  DmPolicy,
  GroupPolicy,
  MentionKind,
  Notice,
  PendingRequest,
  Rejected,
  ReplyText,
  Translate,
} from './types';
import { DM_POLICIES, GROUP_POLICIES } from './types';

export interface RouteFilterOptions {
  dmPolicy?: DmPolicy;
  groupPolicy?: GroupPolicy;
  /** In groups, only messages that mention or reply to the bot pass. Default true. */
  requireMention?: boolean;
  /** `channel:senderId` entries allowed to run `/pair` and always let in by DM. */
  owners?: string | readonly string[] | IdList;
  /** DM allowlist (`channel:senderId`, `channel:*`); in pairing mode these are pre-approved. */
  allowFrom?: string | readonly string[] | IdList;
  /** Group allowlist (`channel:chatId` or `channel:groupId`). */
  groupAllow?: string | readonly string[] | IdList;
  /** Messages per window per peer; 0 turns flood control off. Default 10. */
  rateLimit?: number;
  /** Window of flood control in ms. Default 60 000. */
  rateWindowMs?: number;
  /** Regular expressions (one per line, or a list) that count as a mention in groups. */
  mentionPatterns?: string | readonly string[] | MentionPatterns;
  /** Unmentioned group messages kept per group as context; 0 turns it off. Default 20. */
  groupContextSize?: number;
  /** How long a kept group message stays relevant, in ms. Default one hour. */
  groupContextMaxAgeMs?: number;
  /** Exchanges per window between one other bot and us in one group; 0 = off. Default 20. */
  botLoopLimit?: number;
  /** Window of bot loop protection in ms. Default 60 000. */
  botLoopWindowMs?: number;
  /** Pairing code lifetime in ms. Default one hour. */
  codeTtlMs?: number;
  /** Pending pairing requests per channel. Default 5. */
  maxPendingPerChannel?: number;
  /** Where pairing state lives (approvals must outlive restarts: use a file or Redis store). */
  store: KeyValueStore;
  /** The clock; tests pass their own so expiry and windows need no sleeping. */
  now?: () => number;
  /** Renders reply texts (key under `replies.`); the node passes Node-RED's i18n. */
  t?: Translate;
  /** Code generator (tests). */
  newCode?: () => string;
}

/** Result of a control request (approve / revoke / list by input message). */
export type ControlResult =
  | { action: 'approve'; outcome: ApproveOutcome; notice?: Notice }
  | { action: 'revoke'; outcome: RevokeOutcome }
  | { action: 'list'; listing: PairingListing };

const DEFAULTS = {
  rateLimit: 10,
  rateWindowMs: 60_000,
  codeTtlMs: 60 * 60_000,
  maxPendingPerChannel: 5,
  groupContextSize: 20,
  groupContextMaxAgeMs: 60 * 60_000,
  botLoopLimit: 20,
  botLoopWindowMs: 60_000,
};

/** Fallback renderer: the key and its parameters, for callers that bring no texts. */
const keyRenderer: Translate = (key, params) =>
  Object.keys(params).length ? `${key} ${JSON.stringify(params)}` : key;

export class RouteFilter {
  readonly dmPolicy: DmPolicy;
  readonly groupPolicy: GroupPolicy;
  readonly requireMention: boolean;
  readonly owners: IdList;
  readonly allowFrom: IdList;
  readonly groupAllow: IdList;
  readonly codeTtlMs: number;
  readonly mentionPatterns: MentionPatterns;
  readonly groupContext: GroupContextBuffer;
  readonly botLoop: BotLoopGuard;
  private readonly book: PairingBook;
  private readonly store: KeyValueStore;
  private readonly flood: FloodGate;
  private readonly now: () => number;
  private readonly tr: Translate;

  /** Throws a clear error for a bad option (unknown policy, malformed list entry). */
  constructor(opts: RouteFilterOptions) {
    this.dmPolicy = opts.dmPolicy ?? 'pairing';
    this.groupPolicy = opts.groupPolicy ?? 'allowlist';
    if (!DM_POLICIES.includes(this.dmPolicy)) {
      throw new Error(`dmPolicy ${JSON.stringify(this.dmPolicy)} is unknown: use one of ${DM_POLICIES.join(', ')}`);
    }
    if (!GROUP_POLICIES.includes(this.groupPolicy)) {
      throw new Error(`groupPolicy ${JSON.stringify(this.groupPolicy)} is unknown: use one of ${GROUP_POLICIES.join(', ')}`);
    }
    this.requireMention = opts.requireMention ?? true;
    this.owners = asList(opts.owners, 'owners');
    // An owner approves pairing requests: `channel:*` here would let any stranger approve themselves.
    const wild = this.owners.entries.filter((e) => e.endsWith(':*'));
    if (wild.length) {
      throw new Error(`owners: ${wild.join(', ')}: * would make everyone on that channel an owner; list the owners' ids (e.g. telegram:12345)`);
    }
    this.allowFrom = asList(opts.allowFrom, 'DM allowlist');
    this.groupAllow = asList(opts.groupAllow, 'group allowlist');
    this.codeTtlMs = positive(opts.codeTtlMs, DEFAULTS.codeTtlMs, 'code lifetime');
    const rateLimit = Math.floor(num(opts.rateLimit, DEFAULTS.rateLimit, 'rate limit'));
    const rateWindowMs = positive(opts.rateWindowMs, DEFAULTS.rateWindowMs, 'rate window');
    const maxPending = Math.floor(positive(opts.maxPendingPerChannel, DEFAULTS.maxPendingPerChannel, 'pending requests per channel'));
    this.mentionPatterns =
      opts.mentionPatterns instanceof MentionPatterns ? opts.mentionPatterns : parseMentionPatterns(opts.mentionPatterns);
    this.groupContext = new GroupContextBuffer({
      maxMessages: Math.floor(num(opts.groupContextSize, DEFAULTS.groupContextSize, 'group context size')),
      maxAgeMs: positive(opts.groupContextMaxAgeMs, DEFAULTS.groupContextMaxAgeMs, 'group context age'),
    });
    this.botLoop = new BotLoopGuard({
      limit: Math.floor(num(opts.botLoopLimit, DEFAULTS.botLoopLimit, 'bot loop limit')),
      windowMs: positive(opts.botLoopWindowMs, DEFAULTS.botLoopWindowMs, 'bot loop window'),
    });
    this.now = opts.now ?? Date.now;
    this.tr = opts.t ?? keyRenderer;
    this.flood = new FloodGate({ limit: rateLimit, windowMs: rateWindowMs });
    this.store = opts.store;
    this.book = new PairingBook(opts.store, {
      codeTtlMs: this.codeTtlMs,
      maxPendingPerChannel: maxPending,
      newCode: opts.newCode,
    });
  }

  /** Read the pairing store once (reports a corrupt store file at start). */
  async load(): Promise<PairingListing> {
    return this.book.load(this.now());
  }

  /** Decide on one inbound message. Rejects only when the store fails. */
  async decide(chat: ChatEnvelope): Promise<Decision> {
    const now = this.now();
    const channel = chat.channel.toLowerCase();
    const isOwner = this.owners.has(channel, chat.senderId);

    let mention: MentionKind | undefined;
    const botGuarded = this.botLoop.applies(chat);
    if (chat.chatType === 'group') {
      if (this.groupPolicy === 'disabled') return reject('group_disabled');
      if (this.groupPolicy === 'allowlist' && !this.groupAllow.has(channel, chat.chatId, chat.parentChatId, chat.groupId)) {
        return reject('group_not_allowed');
      }
      mention = this.mentionOf(chat);
      if (!mention) {
        // Only chatter of groups the bot serves is kept: never that of unlisted groups.
        this.groupContext.add(chat, now);
        return reject('not_mentioned');
      }
      if (botGuarded) {
        const loop = this.botLoop.hit(chat, now);
        if (!loop.allowed) {
          return { accept: false, reason: 'bot_loop', botLoop: { pair: loop.pair, warn: loop.warn, retryAfterMs: loop.retryAfterMs } };
        }
      }
    }

    if (isOwner && chat.command?.name === 'pair') {
      if (!(await this.firstToAnswer(chat))) return reject('handled_elsewhere');
      const out = await runPairCommand(this.book, chat.command.args, `${channel}:${chat.senderId}`, now, this);
      return { accept: false, reason: 'pairing_command', reply: out.reply, ...(out.notices.length ? { notices: out.notices } : {}) };
    }

    const direct = chat.chatType === 'direct';
    if (direct && this.dmPolicy === 'disabled') return reject('dm_disabled');
    const listed = this.allowFrom.has(channel, chat.senderId);
    if (direct && this.dmPolicy === 'allowlist' && !listed && !isOwner) return reject('not_allowlisted');

    const verdict = botGuarded ? ({ allowed: true } as const) : this.flood.hit(peerAddress(chat), now);
    if (!verdict.allowed) {
      const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      return verdict.notify && (await this.firstToAnswer(chat))
        ? { accept: false, reason: 'rate_limited', reply: this.reply('rateLimited', { seconds }) }
        : { accept: false, reason: 'rate_limited' };
    }

    if (!direct) {
      const context = this.groupContext.take(chat, now);
      return { accept: true, reason: 'group', mention, ...(context.length ? { groupContext: context } : {}) };
    }
    if (this.dmPolicy === 'open') return { accept: true, reason: 'open' };
    if (isOwner) return { accept: true, reason: 'owner' };
    if (listed) return { accept: true, reason: 'allowlisted' };
    // dmPolicy is 'pairing' here.
    if (await this.book.approved(channel, chat.senderId)) return { accept: true, reason: 'paired' };
    if (!(await this.firstToAnswer(chat))) return reject('handled_elsewhere');
    const req = await this.book.request(
      { channel, senderId: chat.senderId, senderName: chat.senderName, account: chat.account, chatId: chat.chatId },
      now,
    );
    if (req.status === 'full') return { accept: false, reason: 'pairing_queue_full', reply: this.reply('pairingQueueFull', {}) };
    const params = { code: req.request.code, minutes: minutesLeft(req.request, now) };
    return req.status === 'issued'
      ? { accept: false, reason: 'pairing_required', reply: this.reply('pairingRequired', params), pairing: req.request }
      : { accept: false, reason: 'pairing_pending', reply: this.reply('pairingPending', params), pairing: req.request };
  }

  /**
   * Whether this instance is the one to answer `chat` itself (a pairing code, a /pair command,
   * a "slow down"). With several instances on one Redis, Discord hands every message to each of
   * them: without this claim a stranger got two different codes, one of them dead. Accepted
   * messages need no claim: the session store drops the second copy.
   */
  private async firstToAnswer(chat: ChatEnvelope): Promise<boolean> {
    if (!this.store.claimOnce || !chat.messageId) return true;
    const key = `${chat.channel.toLowerCase()}:${chat.account}:${chat.chatId}:${chat.messageId}`;
    return this.store.claimOnce(key, ANSWER_CLAIM_MS);
  }

  /**
   * How a group message addresses the bot, or undefined if it does not: the channel-in
   * node's platform rules (`mentioned`), a reply to the bot, or one of the mention patterns.
   */
  private mentionOf(chat: ChatEnvelope): MentionKind | undefined {
    if (!this.requireMention) return 'not_required';
    if (chat.mentioned) return 'platform';
    if (chat.replyTo?.fromBot === true) return 'reply';
    if (this.mentionPatterns.matches(chat.text)) return 'pattern';
    return undefined;
  }

  /** Approve by code from outside the chat (an inject or dashboard): the owner's other path. */
  async approve(code: string, approvedBy = 'input'): Promise<ControlResult> {
    const outcome = await this.book.approve(code, approvedBy, this.now());
    return { action: 'approve', outcome, ...(outcome.ok ? { notice: this.approvedNotice(outcome.peer) } : {}) };
  }

  /** Revoke an approved peer or drop a pending request (code, `channel:id` or a bare id). */
  async revoke(target: string): Promise<ControlResult> {
    return { action: 'revoke', outcome: await this.book.revoke(target, this.now()) };
  }

  async list(): Promise<ControlResult> {
    return { action: 'list', listing: await this.book.list(this.now()) };
  }

  /** Pending count and the earliest expiry, for the node's status. */
  async summary(): Promise<{ pending: number; approved: number; nextExpiry?: number }> {
    const { pending, approved } = await this.book.list(this.now());
    const nextExpiry = pending.length ? Math.min(...pending.map((p) => p.expiresAt)) : undefined;
    return { pending: pending.length, approved: approved.length, ...(nextExpiry !== undefined ? { nextExpiry } : {}) };
  }

  /** Render a reply text (key under `replies.`). */
  reply(key: string, params: Record<string, string | number>): ReplyText {
    return { key, params, text: this.tr(key, params) };
  }

  /** The "you are in" message to a requester the owner just approved. */
  approvedNotice(peer: ApprovedPeer): Notice | undefined {
    if (!peer.account || !peer.chatId) return undefined;
    return {
      reason: 'pairing_approved',
      chat: {
        channel: peer.channel,
        account: peer.account,
        chatId: peer.chatId,
        chatType: 'direct',
        senderId: peer.senderId,
        ...(peer.senderName ? { senderName: peer.senderName } : {}),
        text: '',
        mentioned: true,
        attachments: [],
        timestamp: this.now(),
      },
      reply: this.reply('approvedNotice', {}),
    };
  }

  /** Minutes left on a pending request, rounded up (for reply texts). */
  minutesLeft(req: PendingRequest, now = this.now()): number {
    return minutesLeft(req, now);
  }
}

/** How long a message's claim lasts: far beyond the moment its copies reach the instances. */
const ANSWER_CLAIM_MS = 10 * 60_000;

function reject(reason: Rejected['reason']): Rejected {
  return { accept: false, reason };
}

function minutesLeft(req: PendingRequest, now: number): number {
  return Math.max(1, Math.ceil((req.expiresAt - now) / 60_000));
}

function asList(v: RouteFilterOptions['owners'], field: string): IdList {
  return v instanceof IdList ? v : parseIdList(v as string | readonly string[] | undefined, field);
}

function num(v: unknown, fallback: number, field: string): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${field} must be a number of 0 or more, got ${JSON.stringify(v)}`);
  return n;
}

function positive(v: unknown, fallback: number, field: string): number {
  const n = num(v, fallback, field);
  if (n <= 0) throw new Error(`${field} must be more than 0, got ${JSON.stringify(v)}`);
  return n;
}
