/**
 * The data the session gateway keeps and hands out. Plain JSON-able shapes only, so every
 * store (memory, file, Redis later) can keep them without knowing any class.
 */
import type { ChatEnvelope } from '../envelope';
import type { GroupMessage } from './group-context';
import type { CompactionState } from './compaction';

/** One entry of a conversation, as the llm node reads it. */
export interface HistoryEntry {
  role: 'user' | 'assistant';
  content: string;
  /** Who said it, in sessions shared by several people (one session per group). */
  name?: string;
  /** ms since the epoch. */
  ts?: number;
}

/** Where a session lives: the parts of the envelope that identify the chat. */
export interface SessionInfo {
  channel: string;
  account: string;
  chatId: string;
  chatType: ChatEnvelope['chatType'];
  threadId?: string;
  groupId?: string;
  /** The peer for one-to-one sessions (or per-member group sessions). */
  senderId?: string;
}

/** `processing`: a turn runs; `waiting`: messages wait for the session's lock or a slot. */
export type SessionState = 'idle' | 'processing' | 'waiting';

/** A message the gateway accepted: journaled, waiting for its turn. */
export interface QueuedMessage {
  /** Unique id of this message inside the gateway (not the platform id). */
  id: string;
  key: string;
  text: string;
  /** Speaker name for the history (set in shared sessions). */
  name?: string;
  /** The envelope as it came, so a turn can be rebuilt after a restart. */
  chat: ChatEnvelope;
  ts: number;
  /** Id of the node that accepted it: the turn leaves from the same node if it still exists. */
  origin?: string;
  /**
   * The platform's id of this message in its session ({@link platformIdOf}): a channel that
   * delivers again (Telegram after a crash before it confirmed the update) brings the same id,
   * and the store refuses it as a `duplicate` instead of running the turn twice.
   */
  platformId?: string;
  /**
   * Group messages that did not mention the bot, sent before this one (group-context.ts).
   * Journaled with the message so a re-run turn sees them; never committed to history.
   */
  groupContext?: GroupMessage[];
}

/** What a store returns when the gateway claims a session's next turn. */
export interface ClaimedTurn {
  key: string;
  turnId: string;
  /**
   * Fencing token: grows with every claim of this session. Ending a turn needs the token it was
   * claimed with, so a late end (lease expired, interrupted, reset) cannot touch a newer turn.
   */
  fence: number;
  /** The user messages of this turn, in arrival order (more than one in collect mode). */
  items: QueuedMessage[];
  /** Committed history before this turn, the newest `historyLimit` entries. */
  history: HistoryEntry[];
  context: Record<string, unknown>;
  /** History entries since the last reset (so `history[i]` is entry `total - history.length + i`). */
  total?: number;
  /** The session's summary of its oldest entries, if it was ever compacted (compaction.ts). */
  summary?: CompactionState;
  /** Resets of this session so far (a summary of another epoch is void). */
  epoch?: number;
}

/** How a turn ended. Only `done` appends an assistant entry. */
export type TurnStatus = 'done' | 'error' | 'expired' | 'interrupted';

export interface TurnOutcome {
  status: TurnStatus;
  /** The assistant's reply (status `done`); empty text appends nothing. */
  reply?: string;
  /** Replaces the session's context variables when given. */
  context?: Record<string, unknown>;
  /**
   * Ids of messages that were waiting in this session and that the turn took in while it ran
   * (queue mode `steer`): they leave the queue and are committed with the turn, after its own
   * user messages and before the reply. Ids no longer waiting are ignored.
   */
  absorbed?: string[];
}

/** A session as the gateway reports it. */
export interface SessionRecord {
  key: string;
  info: SessionInfo;
  state: SessionState;
  context: Record<string, unknown>;
  /** Messages waiting (not yet in a turn). */
  waiting: number;
  /** The running turn, if any. */
  turnId?: string;
  fence: number;
  createdAt: number;
  updatedAt: number;
  /** History entries since the last reset. */
  historyCount?: number;
  /** Resets so far. */
  epoch?: number;
  summary?: CompactionState;
}

/** Bounds checked atomically with the enqueue (see {@link SessionStore.enqueue}). */
export interface BacklogBounds {
  /** Waiting messages across all sessions of this store. */
  maxWaiting: number;
  /** Waiting messages in one session. */
  maxWaitingPerSession: number;
}

export type EnqueueResult =
  | { accepted: true; waiting: number; sessionWaiting: number }
  | { accepted: false; reason: 'busy' | 'session_busy' | 'duplicate'; waiting: number; sessionWaiting: number };

/** How many recent platform ids a session remembers for recognising a re-delivery. */
export const SEEN_PLATFORM_IDS = 200;

/**
 * The id that recognises a re-delivered message: the platform message id, plus the edit time
 * for an edit (an edit is a new message with the same id).
 */
export function platformIdOf(chat: { messageId?: string; edited?: boolean; timestamp?: number }): string | undefined {
  if (!chat.messageId) return undefined;
  return chat.edited ? `${chat.messageId}@${chat.timestamp ?? ''}` : chat.messageId;
}

export type FinishResult = { ok: true; sessionWaiting: number } | { ok: false; reason: 'stale' };
