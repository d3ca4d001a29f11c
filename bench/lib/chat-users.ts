/**
 * Simulated web chat users: each one a real WebSocket client of the clawflow web chat page
 * (ticket, hello, send frames, through test/fakes/webchat-client.ts), sending one message at a
 * time and timing its reply as the browser sees it: first non-empty partial and final.
 */
import { WebchatTestClient } from '../../test/fakes/webchat-client';
import type { ServerFrame } from '../../src/channels/webchat/protocol';
import { now } from './stats';

export interface Answer {
  text: string;
  sentAt: number;
  /** First partial with text (undefined when the reply was not streamed). */
  firstPartialAt?: number;
  doneAt: number;
  /** Partials with text that reached the user before the final. */
  partials: number;
  /** The page's error text for a failed reply. */
  error?: string;
}

export class ChatUser {
  private pending?: { resolve: (a: Answer) => void; sentAt: number; firstPartialAt?: number; partials: number; timer: NodeJS.Timeout; reject: (e: Error) => void };
  private n = 0;

  private constructor(
    readonly peerId: string,
    private readonly client: WebchatTestClient,
  ) {
    client.ws.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as ServerFrame));
  }

  static async connect(page: string, peerId: string): Promise<ChatUser> {
    return new ChatUser(peerId, await WebchatTestClient.connect(page, { peerId }));
  }

  /** Send `text` and resolve with the reply; rejects after `timeoutMs` without one. */
  ask(text: string, timeoutMs: number): Promise<Answer> {
    if (this.pending) return Promise.reject(new Error('one message at a time'));
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`no reply to "${text}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = { resolve, reject, sentAt: now(), partials: 0, timer };
      this.client.send(text, `${this.peerId.slice(-6)}-${++this.n}`);
    });
  }

  private onFrame(f: ServerFrame): void {
    const p = this.pending;
    if (!p || f.type !== 'event' || f.event.role !== 'bot') return;
    const t = now();
    if (!f.event.done) {
      if (p.firstPartialAt === undefined && f.event.text) p.firstPartialAt = t;
      if (f.event.text) p.partials++;
      return;
    }
    clearTimeout(p.timer);
    this.pending = undefined;
    p.resolve({ text: f.event.text, sentAt: p.sentAt, firstPartialAt: p.firstPartialAt, doneAt: t, partials: p.partials, ...(f.event.error ? { error: f.event.error } : {}) });
  }

  async close(): Promise<void> {
    if (this.pending) {
      clearTimeout(this.pending.timer);
      this.pending = undefined;
    }
    await this.client.close();
  }
}

/** Connect `n` users with distinct peer ids under `prefix`, a few at a time. */
export async function connectUsers(page: string, prefix: string, n: number): Promise<ChatUser[]> {
  const users: ChatUser[] = [];
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, (_, k) => ChatUser.connect(page, `${prefix}-${String(i + k).padStart(5, '0')}`)),
    );
    users.push(...batch);
  }
  return users;
}

export async function closeUsers(users: ChatUser[]): Promise<void> {
  await Promise.all(users.map((u) => u.close().catch(() => undefined)));
}
