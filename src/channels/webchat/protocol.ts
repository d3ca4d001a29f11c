/**
 * The web chat wire protocol: JSON text frames on the page's WebSocket.
 *
 * Kept in one file so the server and its tests agree on it, and so the page script
 * (public/webchat/chat.js, plain JS) has one place to be compared with. Every frame from a
 * browser is untrusted: {@link parseClientFrame} checks it completely and says what is wrong.
 */

/** One entry of a peer's conversation, as the page shows it. */
export interface WebchatEvent {
  /** Per-peer sequence number of this entry's latest change; a browser asks for `seq > lastSeq`. */
  seq: number;
  /** Message id: the user message's id, or the reply's stream id (same for its partials). */
  id: string;
  role: 'user' | 'bot';
  /** The text so far (partials) or complete (done). */
  text: string;
  /** False while a reply is still streaming; user messages are always done. */
  done: boolean;
  /** Set when the reply failed: a message the page shows instead of (or after) the text. */
  error?: string;
  /** ms since the epoch. */
  ts: number;
  /** The page's own id for a user message, so it can match its pending bubble and resend safely. */
  clientId?: string;
  /** Display name the user chose, for user messages. */
  name?: string;
}

/** First frame of every connection: who the browser is and what it has already seen. */
export interface HelloFrame {
  type: 'hello';
  peerId: string;
  /** The history epoch the browser's `lastSeq` belongs to (see Outbox). */
  epoch?: string;
  lastSeq?: number;
}

/** A user message. */
export interface SendFrame {
  type: 'send';
  clientId: string;
  text: string;
  name?: string;
}

export type ClientFrame = HelloFrame | SendFrame;

export interface WelcomeFrame {
  type: 'welcome';
  peerId: string;
  epoch: string;
  /** True when `events` is the whole history and the page must drop what it shows. */
  reset: boolean;
  events: WebchatEvent[];
}
export interface EventFrame {
  type: 'event';
  event: WebchatEvent;
}
export interface ErrorFrame {
  type: 'error';
  /** `too_fast`: the socket sent more frames than the server queues (a `retry` frame follows for a message). */
  code: 'bad_frame' | 'too_long' | 'not_ready' | 'internal' | 'too_fast';
  message: string;
  /** The refused message's clientId, when the frame was a send with a valid one: the page marks it failed. */
  clientId?: string;
}
/**
 * The flow did not take a user message (it was being redeployed): nothing was recorded; the
 * page sends the same message (same clientId) again after `afterMs`. Decision 0170.
 */
export interface RetryFrame {
  type: 'retry';
  clientId: string;
  afterMs: number;
}
export type ServerFrame = WelcomeFrame | EventFrame | ErrorFrame | RetryFrame;

/** Longest user message accepted, in UTF-16 units. */
export const MAX_TEXT_LENGTH = 8000;
/** Longest display name. */
export const MAX_NAME_LENGTH = 40;
/** Largest WebSocket frame accepted from a browser: larger ones get a `too_long` error. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Frames larger than this close the socket (1009) before they are read into memory whole. */
export const HARD_FRAME_BYTES = 1024 * 1024;

const PEER_ID = /^[A-Za-z0-9_-]{8,64}$/;
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A peer id is chosen by the browser and also names its transcript file, so it is held to
 * a short safe alphabet (no dots or slashes: no path tricks).
 */
export function isValidPeerId(value: unknown): value is string {
  return typeof value === 'string' && PEER_ID.test(value);
}

/** A frame that could not be accepted, with the code the page gets back. */
export class FrameError extends Error {
  constructor(
    readonly code: ErrorFrame['code'],
    message: string,
    readonly clientId?: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Parse and check one text frame from a browser; throws {@link FrameError}. */
export function parseClientFrame(raw: string): ClientFrame {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    throw new FrameError('bad_frame', 'frame is not JSON');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new FrameError('bad_frame', 'frame is not an object');
  const f = data as Record<string, unknown>;
  if (f.type === 'hello') {
    if (!isValidPeerId(f.peerId)) throw new FrameError('bad_frame', 'hello.peerId must be 8-64 letters, digits, _ or -');
    const hello: HelloFrame = { type: 'hello', peerId: f.peerId };
    if (typeof f.epoch === 'string' && f.epoch.length <= 64) hello.epoch = f.epoch;
    if (typeof f.lastSeq === 'number' && Number.isSafeInteger(f.lastSeq) && f.lastSeq >= 0) hello.lastSeq = f.lastSeq;
    return hello;
  }
  if (f.type === 'send') {
    if (typeof f.clientId !== 'string' || !CLIENT_ID.test(f.clientId)) throw new FrameError('bad_frame', 'send.clientId must be 1-64 letters, digits, _ or -');
    if (typeof f.text !== 'string') throw new FrameError('bad_frame', 'send.text must be a string', f.clientId);
    const text = f.text.trim();
    if (!text) throw new FrameError('bad_frame', 'send.text is empty', f.clientId);
    if (text.length > MAX_TEXT_LENGTH) throw new FrameError('too_long', `message is longer than ${MAX_TEXT_LENGTH} characters`, f.clientId);
    const send: SendFrame = { type: 'send', clientId: f.clientId, text };
    if (typeof f.name === 'string' && f.name.trim()) send.name = f.name.trim().slice(0, MAX_NAME_LENGTH);
    return send;
  }
  throw new FrameError('bad_frame', `unknown frame type ${JSON.stringify(f.type)}`);
}

/** Parse a leading `/command args` (the envelope's `command`). */
export function parseCommand(text: string): { name: string; args: string } | undefined {
  const m = /^\/([A-Za-z0-9_]{1,32})(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return undefined;
  return { name: m[1].toLowerCase(), args: (m[2] ?? '').trim() };
}
