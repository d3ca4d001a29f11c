/**
 * The web chat server: the page's HTTP routes and its WebSocket, on a server someone else owns
 * (Node-RED's). It never listens on a port itself: the caller mounts {@link httpHandler} on an
 * express app and passes `upgrade` events to {@link handleUpgrade}, so Node-RED's http node
 * auth, TLS and port apply, and a redeploy removes everything by calling {@link close}.
 */
import crypto from 'crypto';
import type { IncomingMessage, ServerResponse } from 'http';
import type { Duplex } from 'stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { originAllowed, tokenMatches, TicketBook } from './access';
import type { Outbox } from './outbox';
import {
  FrameError,
  HARD_FRAME_BYTES,
  MAX_FRAME_BYTES,
  parseClientFrame,
  type ClientFrame,
  type ServerFrame,
  type WebchatEvent,
} from './protocol';
import { sendJson, sendPageFile } from './static-files';

/** A user message on its way into the flow. */
export interface InboundMessage {
  peerId: string;
  text: string;
  name?: string;
  messageId: string;
  ts: number;
}

/** A reply (or a part of a streamed one) on its way to a peer. */
export interface OutboundUpdate {
  /** Same for every partial and the final of one reply. */
  id: string;
  text: string;
  done: boolean;
  /** The reply failed: shown as a failed reply. */
  error?: string;
}

export interface WebchatServerOptions {
  /** Full URL path of the socket, e.g. `/clawflow/chat/ws` (including Node-RED's httpNodeRoot). */
  wsPath: string;
  /** Folder with the page files (public/webchat). */
  publicDir: string;
  outbox: Outbox;
  title?: string;
  /** When set, the page must present it (header `X-Clawflow-Token`) to get a socket ticket. */
  accessToken?: string;
  /** Origins allowed besides the page's own, e.g. `https://example.com`. */
  allowedOrigins?: string[];
  /** Ping interval that finds dead sockets; 0 turns it off. */
  heartbeatMs?: number;
  /**
   * Pass a user message to the flow. A promise defers the page's "received" ack (and the
   * record that makes a resend a duplicate) until it settles: `true` once the flow took it
   * (decision 0170, hand-off), `false` = not taken (the flow is closing): no ack, the page
   * keeps it pending and sends it again. Bound the wait yourself (src/handoff.ts).
   */
  onMessage: (msg: InboundMessage) => void | Promise<boolean>;
  /** How long a page waits before resending a message the flow did not take (socket still open). Default 1000. */
  retryAfterMs?: number;
  /** Number of connected browser tabs changed. */
  onClients?: (count: number) => void;
  /** Failures that have no caller to go to (a socket write, a storage error). */
  onError?: (err: unknown) => void;
}

/**
 * Frames one socket may have waiting to be handled. Frames are handled one after the other
 * (a message waits for its hand-off), so a peer sending faster than the flow takes messages
 * would grow the queue without end; past this many it gets `retry` (decision 0190).
 */
export const MAX_QUEUED_FRAMES = 32;

/** Minimal express-compatible request: `originalUrl` is set by express when mounted on a path. */
type Req = IncomingMessage & { originalUrl?: string };
type Next = (err?: unknown) => void;

interface Client {
  peerId?: string;
  alive: boolean;
  /** Frames of this socket are handled one after the other. */
  chain: Promise<void>;
  /** Frames in `chain` not handled yet (bounded by MAX_QUEUED_FRAMES). */
  waiting: number;
  /** Broadcasts that arrived while the welcome was being prepared. */
  queued?: WebchatEvent[];
}

export class WebchatServer {
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<WebSocket, Client>();
  private readonly byPeer = new Map<string, Set<WebSocket>>();
  private readonly tickets = new TicketBook();
  private heartbeat?: NodeJS.Timeout;
  private closed = false;
  /** User messages waiting for their hand-off, by `peerId \n clientId`: a resend shares the outcome. */
  private readonly inflight = new Map<string, Promise<WebchatEvent | undefined>>();
  /** The same promises per peer: a reply waits for them, so it never shows above its question. */
  private readonly inflightByPeer = new Map<string, Set<Promise<unknown>>>();

  constructor(private readonly opts: WebchatServerOptions) {
    // Frames between MAX_FRAME_BYTES and the hard cap get a clear error and the socket stays.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: HARD_FRAME_BYTES });
    const every = opts.heartbeatMs ?? 30_000;
    if (every > 0) {
      this.heartbeat = setInterval(() => this.sweep(), every);
      this.heartbeat.unref();
    }
  }

  /** The outbox replies are kept in. */
  get outbox(): Outbox {
    return this.opts.outbox;
  }

  /** Connected browser tabs that have said hello. */
  get clientCount(): number {
    let n = 0;
    for (const c of this.clients.values()) if (c.peerId) n++;
    return n;
  }

  /** Express-style middleware, mounted at the chat path. */
  readonly httpHandler = (req: Req, res: ServerResponse, next: Next): void => {
    this.handleHttp(req, res).then(
      (handled) => {
        if (!handled) next();
      },
      (err) => next(err),
    );
  };

  private async handleHttp(req: Req, res: ServerResponse): Promise<boolean> {
    if (this.closed) return false;
    const rel = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      if (rel.pathname === '/') {
        // Relative asset URLs need the trailing slash: /chat -> /chat/
        const full = new URL(req.originalUrl ?? req.url ?? '/', 'http://x');
        if (!full.pathname.endsWith('/')) {
          const last = full.pathname.split('/').pop() || '';
          res.statusCode = 302;
          res.setHeader('Location', `${encodeURIComponent(decodeURIComponent(last))}/${full.search}`);
          res.end();
          return true;
        }
      }
      if (rel.pathname === '/config.json') {
        sendJson(res, 200, { title: this.opts.title ?? '', tokenRequired: !!this.opts.accessToken });
        return true;
      }
      return sendPageFile(this.opts.publicDir, rel.pathname, res, method === 'HEAD');
    }
    if (method === 'POST' && rel.pathname === '/ticket') {
      req.resume(); // no body is read; do not leave it hanging
      if (this.opts.accessToken) {
        const presented = req.headers['x-clawflow-token'];
        if (!presented) {
          sendJson(res, 401, { error: 'token_required' });
          return true;
        }
        if (!tokenMatches(presented, this.opts.accessToken)) {
          sendJson(res, 401, { error: 'token_invalid' });
          return true;
        }
      }
      sendJson(res, 200, { ticket: this.tickets.issue() });
      return true;
    }
    return false;
  }

  /**
   * Handle an `upgrade` event of the HTTP server. Returns false (socket untouched) when the
   * path is not this chat's, so other upgrade listeners (editor comms, websocket nodes) get it.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== this.opts.wsPath) return false;
    const refuse = (status: string) => {
      socket.on('error', () => undefined);
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (this.closed) {
      refuse('503 Service Unavailable');
    } else if (!originAllowed(req.headers.origin, req.headers.host, this.opts.allowedOrigins ?? [])) {
      refuse('403 Forbidden');
    } else if (!this.tickets.redeem(url.searchParams.get('ticket'))) {
      refuse('401 Unauthorized');
    } else {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
    }
    return true;
  }

  private attach(ws: WebSocket): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const client: Client = { alive: true, chain: Promise.resolve(), waiting: 0 };
    this.clients.set(ws, client);
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', () => undefined); // 'close' follows; nothing to report to the user
    ws.on('close', () => this.detach(ws));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (client.waiting >= MAX_QUEUED_FRAMES) {
        this.refuseTooFast(ws, data, isBinary);
        return;
      }
      client.waiting++;
      client.chain = client.chain
        .then(() => this.onFrame(ws, client, data, isBinary))
        .catch((err) => {
          this.sendFrame(ws, { type: 'error', code: 'internal', message: 'the server could not handle this message' });
          this.opts.onError?.(err);
        })
        .finally(() => {
          client.waiting--;
        });
    });
  }

  private detach(ws: WebSocket): void {
    const client = this.clients.get(ws);
    if (!client) return;
    this.clients.delete(ws);
    if (client.peerId) {
      const set = this.byPeer.get(client.peerId);
      set?.delete(ws);
      if (set && set.size === 0) this.byPeer.delete(client.peerId);
      this.opts.onClients?.(this.clientCount);
    }
  }

  /** A frame past the queue cap: a message among them is sent again by the page (nothing lost). */
  private refuseTooFast(ws: WebSocket, data: RawData, isBinary: boolean): void {
    let clientId: string | undefined;
    if (!isBinary && frameBytes(data) <= MAX_FRAME_BYTES) {
      try {
        const f = parseClientFrame(data.toString());
        if (f.type === 'send') clientId = f.clientId;
      } catch {
        // Not a valid message: the error below is all it gets.
      }
    }
    this.sendFrame(ws, { type: 'error', code: 'too_fast', message: 'too many messages at once: slow down', ...(clientId ? { clientId } : {}) });
    if (clientId) this.sendFrame(ws, { type: 'retry', clientId, afterMs: Math.max(this.opts.retryAfterMs ?? 1000, 1000) });
  }

  private async onFrame(ws: WebSocket, client: Client, data: RawData, isBinary: boolean): Promise<void> {
    let frame: ClientFrame;
    try {
      if (isBinary) throw new FrameError('bad_frame', 'binary frames are not accepted');
      if (frameBytes(data) > MAX_FRAME_BYTES) throw new FrameError('too_long', `frame is larger than ${MAX_FRAME_BYTES / 1024} KB`);
      frame = parseClientFrame(data.toString());
      if (frame.type === 'send' && !client.peerId) throw new FrameError('not_ready', 'say hello first');
      if (frame.type === 'hello' && client.peerId) throw new FrameError('bad_frame', 'hello was already sent');
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.sendFrame(ws, { type: 'error', code: err.code, message: err.message, ...(err.clientId ? { clientId: err.clientId } : {}) });
      return;
    }
    if (frame.type === 'hello') {
      client.peerId = frame.peerId;
      client.queued = [];
      let set = this.byPeer.get(frame.peerId);
      if (!set) this.byPeer.set(frame.peerId, (set = new Set()));
      set.add(ws);
      const replay = await this.opts.outbox.since(frame.peerId, frame.epoch, frame.lastSeq);
      this.sendFrame(ws, { type: 'welcome', peerId: frame.peerId, ...replay });
      // Anything recorded while the replay was read, and not in it, follows in order.
      let covered = replay.reset ? 0 : (frame.lastSeq ?? 0);
      for (const e of replay.events) covered = Math.max(covered, e.seq);
      const queued = client.queued;
      client.queued = undefined;
      for (const e of queued) if (e.seq > covered) this.sendFrame(ws, { type: 'event', event: e });
      this.opts.onClients?.(this.clientCount);
      return;
    }
    const peerId = client.peerId as string;
    const seen = await this.opts.outbox.findByClientId(peerId, frame.clientId);
    if (seen) {
      // A resend after a dropped connection: acknowledge, do not run the turn twice.
      this.sendFrame(ws, { type: 'event', event: seen });
      return;
    }
    const key = `${peerId}\n${frame.clientId}`;
    // The same message still waiting for its hand-off (sent again on another tab or socket).
    const running = this.inflight.get(key) ?? this.accept(peerId, key, frame);
    // Taken: accept() showed it on every tab of the peer, this one included (the ack).
    if (!(await running) && !this.closed) this.sendFrame(ws, { type: 'retry', clientId: frame.clientId, afterMs: this.opts.retryAfterMs ?? 1000 });
    // Closed: no answer at all; the socket closes with 1001 and the page resends to the next deploy.
  }

  /**
   * Hand the message to the flow, then (if taken) record it and show it on every tab of the
   * peer (the sender's "received" ack). Resolves with the recorded event, or undefined when the flow did not take it: then
   * nothing is recorded, so the page's resend is a new message and not a "duplicate".
   */
  private accept(peerId: string, key: string, frame: Extract<ClientFrame, { type: 'send' }>): Promise<WebchatEvent | undefined> {
    const messageId = crypto.randomUUID();
    const ts = Date.now();
    const run = (async () => {
      let outcome: void | Promise<boolean> = undefined;
      try {
        outcome = this.opts.onMessage({ peerId, text: frame.text, name: frame.name, messageId, ts });
      } catch (err) {
        this.opts.onError?.(err);
      }
      // A listener's failure counts as taken: resending would fail the same way (no loop).
      const taken = outcome && typeof outcome.then === 'function' ? await outcome.catch((err) => (this.opts.onError?.(err), true)) : true;
      if (!taken) return undefined;
      const event = await this.opts.outbox.record(peerId, {
        id: messageId,
        role: 'user',
        text: frame.text,
        done: true,
        ts,
        clientId: frame.clientId,
        ...(frame.name ? { name: frame.name } : {}),
      });
      this.broadcast(peerId, event);
      return event;
    })();
    let peerSet = this.inflightByPeer.get(peerId);
    if (!peerSet) this.inflightByPeer.set(peerId, (peerSet = new Set()));
    const set = peerSet;
    this.inflight.set(key, run);
    set.add(run);
    const forget = () => {
      this.inflight.delete(key);
      set.delete(run);
      if (set.size === 0 && this.inflightByPeer.get(peerId) === set) this.inflightByPeer.delete(peerId);
    };
    run.then(forget, forget);
    return run;
  }

  /**
   * Record a reply update for `peerId` and show it on every tab of that peer. Works while the
   * peer is offline too: the outbox keeps it and a reconnecting page gets it.
   */
  async deliver(peerId: string, update: OutboundUpdate): Promise<WebchatEvent> {
    // A question still waiting for its hand-off is recorded first (the wait is bounded).
    const before = this.inflightByPeer.get(peerId);
    if (before?.size) await Promise.allSettled([...before]);
    const event = await this.opts.outbox.record(peerId, {
      id: update.id,
      role: 'bot',
      text: update.text,
      done: update.done,
      ...(update.error ? { error: update.error } : {}),
    });
    this.broadcast(peerId, event);
    return event;
  }

  private broadcast(peerId: string, event: WebchatEvent): void {
    for (const ws of this.byPeer.get(peerId) ?? []) {
      const client = this.clients.get(ws);
      if (client?.queued) client.queued.push(event);
      else this.sendFrame(ws, { type: 'event', event });
    }
  }

  private sendFrame(ws: WebSocket, frame: ServerFrame): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(frame), (err) => {
      if (err) this.opts.onError?.(err);
    });
  }

  private sweep(): void {
    for (const [ws, client] of this.clients) {
      if (!client.alive) {
        ws.terminate();
        continue;
      }
      client.alive = false;
      try {
        ws.ping();
      } catch {
        ws.terminate();
      }
    }
  }

  /** Drop a peer's sockets (tests use it to simulate a network drop). */
  dropPeer(peerId: string): number {
    const set = this.byPeer.get(peerId);
    if (!set) return 0;
    for (const ws of set) ws.terminate();
    return set.size;
  }

  /**
   * Close every socket (code 1001 "going away", so pages reconnect to the next deploy), stop
   * the heartbeat and wait for pending storage writes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const sockets = [...this.clients.keys()];
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            // A peer that never answers the close handshake is cut off.
            const t = setTimeout(() => ws.terminate(), 1000);
            ws.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            ws.close(1001, 'server closing');
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    // Messages the flow took while we closed are recorded (so the page's resend to the next
    // deploy is a duplicate, not a second turn); the waits are bounded by the in-node.
    await Promise.allSettled([...this.inflight.values()]);
    await this.opts.outbox.flush();
  }
}

/** Size of a received frame in bytes (ws hands over a Buffer, an ArrayBuffer or fragments). */
function frameBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return (data as Buffer | ArrayBuffer).byteLength;
}
