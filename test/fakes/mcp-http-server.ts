/**
 * Loopback MCP server over Streamable HTTP (the real SDK server transport on a plain node http
 * server, 127.0.0.1 only), one McpServer per session like a real stateful server.
 *
 * `crash()` drops every socket and stops listening (a server that died or a network that went
 * away); `restart()` listens again on the same port with no sessions (a fresh server process).
 * With `token` set, requests without `Authorization: Bearer <token>` get a 401.
 * With `initializeDelayMs`, each `initialize` request waits that long before it is answered
 * (a server that is slow to start a session).
 */
import http from 'http';
import type { AddressInfo, Socket } from 'net';
import { randomUUID } from 'crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { buildFakeMcpServer } from './mcp-tools';

export interface FakeMcpHttp {
  url: string;
  port: number;
  /** Calls per tool name across sessions. */
  calls: Record<string, number>;
  /** Session ids alive now (a DELETE from the client removes one). */
  sessions(): string[];
  /** Session ids the client ended with DELETE. */
  terminated: string[];
  /** Headers of the last request, lower-cased names. */
  lastHeaders: http.IncomingHttpHeaders;
  crash(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeMcpHttp(opts: { token?: string; port?: number; initializeDelayMs?: number } = {}): Promise<FakeMcpHttp> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const sockets = new Set<Socket>();
  const calls: Record<string, number> = {};
  const terminated: string[] = [];
  let lastHeaders: http.IncomingHttpHeaders = {};
  let server: http.Server;

  const readBody = (req: http.IncomingMessage) =>
    new Promise<unknown>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          resolve(raw ? JSON.parse(raw) : undefined);
        } catch (err) {
          reject(err);
        }
      });
      req.on('error', reject);
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    lastHeaders = req.headers;
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    const sid = req.headers['mcp-session-id'] as string | undefined;
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid || req.method !== 'POST' || !isInitializeRequest(body)) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, t);
        },
        onsessionclosed: (id) => {
          terminated.push(id);
          transports.delete(id);
        },
      });
      transport = t;
      if (opts.initializeDelayMs) await new Promise((r) => setTimeout(r, opts.initializeDelayMs));
      const mcp = buildFakeMcpServer({ calls, onCrash: () => void api.crash() });
      await mcp.connect(t);
    }
    await transport.handleRequest(req, res, body);
  };

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server = http.createServer((req, res) => {
        handle(req, res).catch((err) => {
          if (!res.headersSent) res.writeHead(500).end(String(err));
        });
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });

  const stop = async () => {
    for (const t of transports.values()) await t.close().catch(() => undefined);
    transports.clear();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  };

  await listen(opts.port ?? 0);
  const port = (server!.address() as AddressInfo).port;
  const api: FakeMcpHttp = {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    calls,
    terminated,
    sessions: () => [...transports.keys()],
    get lastHeaders() {
      return lastHeaders;
    },
    crash: stop,
    restart: () => listen(port),
    close: stop,
  };
  return api;
}
