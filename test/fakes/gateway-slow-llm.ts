/**
 * A slow loopback OpenAI Chat Completions server (non-streaming `POST /v1/chat/completions`)
 * for the session gateway tests. It answers `echo: <last user text>` after `delayMs`, or holds
 * answers until the test releases them, and it measures what the gateway's scheduling must
 * guarantee, from the outside: requests in flight overall and per session (the client sends
 * the session key in the `x-session-key` header) and the order texts arrived in.
 */
import http from 'http';
import type { AddressInfo } from 'net';

interface Held {
  res: http.ServerResponse;
  reply: string;
  done: () => void;
}

export class GatewaySlowLlm {
  /** Wait this long before answering. */
  delayMs = 15;
  /** Hold every answer until `release()`. */
  hold = false;
  /** Hold answers until this many requests are in flight at once, then answer them all. */
  barrier = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Highest number of requests of one session in flight at once. */
  maxPerSession = 0;
  /** Requests the client gave up on (aborted) before the answer. */
  aborted = 0;
  /** Every request: session key and the messages it carried. */
  readonly received: { key: string; messages: { role: string; content: string; name?: string }[] }[] = [];
  private readonly perSession = new Map<string, number>();
  private readonly held: Held[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private server: http.Server | undefined;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1`;
  }

  /** Answer every held request now. */
  release(): void {
    for (const h of this.held.splice(0)) this.answer(h);
  }

  /** Resolves once `n` requests have arrived in total. */
  waitForRequests(n: number): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const h of this.held.splice(0)) h.res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const key = String(req.headers['x-session-key'] ?? '');
      this.received.push({ key, messages: body.messages });
      for (const w of [...this.waiters]) {
        if (this.received.length >= w.n) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const n = (this.perSession.get(key) ?? 0) + 1;
      this.perSession.set(key, n);
      this.maxPerSession = Math.max(this.maxPerSession, n);
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        this.inFlight--;
        const left = (this.perSession.get(key) ?? 1) - 1;
        if (left) this.perSession.set(key, left);
        else this.perSession.delete(key);
      };
      res.on('close', () => {
        if (!res.writableFinished) this.aborted++;
        done();
      });
      const users = body.messages.filter((m: { role: string }) => m.role === 'user');
      const h: Held = { res, reply: `echo: ${users[users.length - 1]?.content ?? ''}`, done };
      if (this.hold) {
        this.held.push(h);
      } else if (this.barrier > 0) {
        this.held.push(h);
        if (this.inFlight >= this.barrier) {
          this.barrier = 0;
          this.release();
        }
      } else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.answer(h);
        }, this.delayMs);
        this.timers.add(t);
      }
    });
  }

  private answer(h: Held): void {
    if (h.res.destroyed) return;
    h.done();
    h.res.writeHead(200, { 'content-type': 'application/json' });
    h.res.end(
      JSON.stringify({
        id: 'chatcmpl-gw',
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: 'slow-echo',
        choices: [{ index: 0, message: { role: 'assistant', content: h.reply }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  }
}
