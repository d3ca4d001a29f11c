/**
 * What the llm node reads as the conversation: the session window from the gateway
 * (`msg.session.history`, new user turn last) or, without a gateway, `msg.payload` as plain
 * text or an array of `{role, content}`. Bad input gets an error that says what was expected.
 */
import type { ConvMessage } from './types';

/** The history entry shape the session gateway produces. */
export interface HistoryEntry {
  role: 'user' | 'assistant';
  content: string;
  name?: string;
  ts?: number;
}

export class ConversationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConversationError';
  }
}

function fromEntries(entries: unknown[], where: string): ConvMessage[] {
  const out: ConvMessage[] = [];
  entries.forEach((e, i) => {
    const m = e as Partial<HistoryEntry> | null;
    if (!m || typeof m !== 'object') throw new ConversationError(`${where}[${i}] must be an object {role, content}`);
    if (m.role !== 'user' && m.role !== 'assistant') {
      throw new ConversationError(`${where}[${i}].role must be "user" or "assistant", got ${JSON.stringify(m.role)}`);
    }
    const content = typeof m.content === 'string' ? m.content : m.content == null ? '' : JSON.stringify(m.content);
    if (m.role === 'user') out.push(m.name ? { role: 'user', content, name: String(m.name) } : { role: 'user', content });
    else out.push({ role: 'assistant', content });
  });
  if (!out.length) throw new ConversationError(`${where} is empty: there is nothing to answer`);
  return out;
}

/** Build the conversation for one turn from an incoming message. */
export function conversationFromMsg(msg: { session?: unknown; payload?: unknown }): ConvMessage[] {
  const session = msg.session as { history?: unknown } | undefined;
  if (session && typeof session === 'object' && session.history !== undefined) {
    if (!Array.isArray(session.history)) throw new ConversationError('msg.session.history must be an array of {role, content} (the session gateway sets it)');
    return fromEntries(session.history, 'msg.session.history');
  }
  const p = msg.payload;
  if (typeof p === 'string') {
    if (!p.trim()) throw new ConversationError('msg.payload is empty: send the user\'s text, or a msg.session from a session gateway');
    return [{ role: 'user', content: p }];
  }
  if (Array.isArray(p)) return fromEntries(p, 'msg.payload');
  if (typeof p === 'number' || typeof p === 'boolean') return [{ role: 'user', content: String(p) }];
  throw new ConversationError(
    'nothing to answer: send text on msg.payload, an array of {role, content} on msg.payload, or wire a session gateway (msg.session)',
  );
}
