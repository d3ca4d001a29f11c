/**
 * The pieces between Node-RED and the web chat engine that are worth testing alone: what the
 * config node accepts as a path and origins, how a page message becomes a chat envelope, and
 * how an outbound msg (plain, streamed partial/final, or failed) becomes an outbox update.
 */
import crypto from 'crypto';
import type { ChatEnvelope, StreamInfo } from '../../envelope';
import { parseCommand, type WebchatEvent } from './protocol';
import type { InboundMessage, OutboundUpdate } from './server';

/** What in/out nodes see of a web chat config node's state. */
export interface WebchatState {
  state: 'ready' | 'failed' | 'stopped';
  /** Connected browser tabs. */
  clients: number;
  /** The page's URL path (with httpNodeRoot), ending in '/'. */
  url: string;
  error?: string;
}

/** What a web chat config node offers its in/out nodes. */
export interface WebchatHub {
  readonly pageUrl: string;
  subscribe(listener: (s: WebchatState) => void): () => void;
  /**
   * Receive page messages. A listener's promise defers the page's ack until it settles;
   * `false` = not taken (the listener is closing), the page sends it again (decision 0170).
   */
  onInbound(listener: (m: InboundMessage) => void | Promise<boolean>): () => void;
  deliver(peerId: string, update: OutboundUpdate): Promise<WebchatEvent>;
}

/** `/clawflow/chat` from what a user typed; undefined if it is not a usable path. */
export function normaliseChatPath(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  let p = input.trim();
  if (!p.startsWith('/')) p = '/' + p;
  p = p.replace(/\/+$/, '');
  if (!p || !/^(\/[A-Za-z0-9._~-]+)+$/.test(p) || p.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return p;
}

/** Parse the allowed-origins field: origins separated by commas, spaces or new lines. */
export function parseOrigins(text: unknown): { origins: string[]; bad: string[] } {
  const origins: string[] = [];
  const bad: string[] = [];
  for (const part of String(text ?? '').split(/[\s,]+/).filter(Boolean)) {
    try {
      const u = new URL(part);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && u.pathname === '/' && !u.search && !part.endsWith('/?')) {
        origins.push(`${u.protocol}//${u.host}`);
      } else bad.push(part);
    } catch {
      bad.push(part);
    }
  }
  return { origins, bad };
}

/** The envelope for one message from the page (`account` = the config node id). */
export function webchatEnvelope(account: string, m: InboundMessage): ChatEnvelope {
  const chat: ChatEnvelope = {
    channel: 'webchat',
    account,
    chatId: m.peerId,
    chatType: 'direct',
    senderId: m.peerId,
    text: m.text,
    messageId: m.messageId,
    mentioned: true,
    attachments: [],
    timestamp: m.ts,
  };
  if (m.name) chat.senderName = m.name;
  const command = parseCommand(m.text);
  if (command) chat.command = command;
  return chat;
}

/** Longest error text shown in the page. */
const MAX_ERROR = 500;

function payloadText(payload: unknown): string {
  if (payload == null) return '';
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  if (typeof payload === 'object') return JSON.stringify(payload, null, 2);
  return String(payload);
}

function errorText(err: unknown): string {
  const e = err as { message?: unknown } | string | undefined;
  const text = typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : '';
  return text.slice(0, MAX_ERROR);
}

/**
 * The outbox update for one outbound msg. All messages of one stream share an id (so the page
 * updates one bubble); a msg without a stream is a complete reply of its own.
 */
export function updateFromMsg(
  msg: { payload?: unknown; stream?: StreamInfo; error?: unknown; reason?: unknown },
  newId: () => string = () => crypto.randomUUID(),
): OutboundUpdate {
  const stream = msg.stream;
  const id = stream && typeof stream.id === 'string' && stream.id ? `r-${stream.id}` : newId();
  if (msg.error != null || msg.reason === 'llm_error') {
    return {
      id,
      text: typeof msg.payload === 'string' ? msg.payload : '',
      done: true,
      error: errorText(msg.error) || 'llm_error',
    };
  }
  return { id, text: payloadText(msg.payload), done: !stream || stream.done !== false };
}
