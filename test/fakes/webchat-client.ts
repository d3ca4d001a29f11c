/**
 * A scripted browser for web chat tests: speaks the page's real protocol (POST ticket, then
 * the WebSocket with hello/send frames) over 127.0.0.1 with the `ws` client, and records every
 * frame it gets so tests can wait for one.
 */
import WebSocket from 'ws';
import type { ServerFrame, WebchatEvent } from '../../src/channels/webchat/protocol';

export interface ClientOptions {
  peerId: string;
  /** Origin header; defaults to the chat's own origin. */
  origin?: string;
  token?: string;
  epoch?: string;
  lastSeq?: number;
  /** Extra headers on the ticket request (basic auth). */
  headers?: Record<string, string>;
}

/** Ask for a socket ticket; resolves with the HTTP status and the JSON body. */
export async function requestTicket(pageUrl: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL('ticket', pageUrl), {
    method: 'POST',
    headers: { ...headers, ...(token ? { 'X-Clawflow-Token': token } : {}) },
  });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

/** Open a socket; rejects with the HTTP status if the handshake is refused. */
export function openSocket(pageUrl: string, ticket: string, origin: string): Promise<WebSocket> {
  const url = new URL('ws', pageUrl);
  url.protocol = 'ws:';
  url.searchParams.set('ticket', ticket);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

export class WebchatTestClient {
  readonly frames: ServerFrame[] = [];
  private waiters: { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  /** Ticket, socket, hello; resolves after the welcome frame. */
  static async connect(pageUrl: string, opts: ClientOptions): Promise<WebchatTestClient> {
    const t = await requestTicket(pageUrl, opts.token, opts.headers);
    if (t.status !== 200) throw Object.assign(new Error(`ticket refused: ${t.status} ${JSON.stringify(t.body)}`), t);
    const origin = opts.origin ?? new URL(pageUrl).origin;
    const ws = await openSocket(pageUrl, t.body.ticket, origin);
    const client = new WebchatTestClient(ws);
    const welcome = client.waitFor((f) => f.type === 'welcome');
    client.raw({ type: 'hello', peerId: opts.peerId, epoch: opts.epoch, lastSeq: opts.lastSeq });
    await welcome;
    return client;
  }

  raw(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  send(text: string, clientId = `c${Math.random().toString(36).slice(2, 10)}`, name?: string): string {
    this.raw({ type: 'send', clientId, text, name });
    return clientId;
  }

  /** The first frame (already received or future) that matches. */
  waitFor(pred: (f: ServerFrame) => boolean, ms = 5000): Promise<ServerFrame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`frame never came; got ${JSON.stringify(this.frames).slice(0, 2000)}`)), ms);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Wait for an event frame matching `pred` on its event. */
  async waitForEvent(pred: (e: WebchatEvent) => boolean, ms?: number): Promise<WebchatEvent> {
    const f = await this.waitFor((f) => f.type === 'event' && pred(f.event), ms);
    return (f as { event: WebchatEvent }).event;
  }

  get welcome() {
    return this.frames.find((f) => f.type === 'welcome') as Extract<ServerFrame, { type: 'welcome' }>;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}
