/**
 * Test glue for the session gateway: envelopes, and a worker that answers every turn the way
 * the llm node will, through the real OpenAI client against a loopback fake, abortable by
 * the turn's signal, then closes the turn with `endTurn`.
 */
import OpenAI from 'openai';
import type { ChatEnvelope } from '../../src/envelope';
import { turnSignal } from '../../src/turn-signals';
import type { Gateway, Turn } from '../../src/gateway';

let seq = 0;

/** A chat envelope as a channel-in node makes it. */
export function chatOf(peer: string, over: Partial<ChatEnvelope> = {}): ChatEnvelope {
  const text = over.text ?? `hi from ${peer}`;
  return {
    channel: 'telegram',
    account: 'bot1',
    chatId: peer,
    chatType: 'direct',
    senderId: peer,
    senderName: `Peer ${peer}`,
    text,
    // Unique across processes too: the multi-instance tests run workers side by side.
    messageId: `${process.pid}.${++seq}`,
    mentioned: true,
    attachments: [],
    timestamp: Date.now(),
    ...over,
  };
}

export interface WorkerRecord {
  turn: Turn;
  outcome?: 'ended' | 'stale';
  reply?: string;
  error?: string;
}

/**
 * Answer turns of `gw` via `baseURL`. `skip(turn)` true: leave the turn unanswered (a broken
 * wire). Returns the records and a promise helper that waits for `n` ended turns.
 */
export function startWorker(gw: Gateway, baseURL: string, skip: (turn: Turn) => boolean = () => false) {
  const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0 });
  const records: WorkerRecord[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let ended = 0;
  const settle = () => {
    ended++;
    for (const w of [...waiters]) {
      if (ended >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const off = gw.on('turn', (turn) => {
    const rec: WorkerRecord = { turn };
    records.push(rec);
    if (skip(turn)) return;
    void (async () => {
      try {
        const res = await client.chat.completions.create(
          { model: 'slow-echo', messages: turn.history.map((h) => ({ role: h.role, content: h.content })) },
          { headers: { 'x-session-key': turn.key }, signal: turnSignal(turn.turnId) },
        );
        rec.reply = res.choices[0].message.content ?? '';
        rec.outcome = await gw.endTurn(turn, { reply: rec.reply });
      } catch (err) {
        rec.error = (err as Error).message;
        rec.outcome = await gw.endTurn(turn, { error: err });
      }
      settle();
    })();
  });
  return {
    records,
    off,
    /** Resolves when `n` turns have been closed (ended or stale) by this worker. */
    waitEnded(n: number): Promise<void> {
      if (ended >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** Resolves on the next event `event` of `gw`. */
export function nextEvent<T>(gw: Gateway, event: 'expired' | 'turn'): Promise<T> {
  return new Promise((resolve) => {
    const off = gw.on(event, ((arg: T) => {
      off();
      resolve(arg);
    }) as never);
  });
}
