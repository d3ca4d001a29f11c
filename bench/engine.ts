/**
 * Engine-level benchmark: route filter + session gateway with an instant downstream, no
 * Node-RED and no LLM. Run in a fresh process per configuration (bench/run.js does this) with
 * `--expose-gc`, so heap figures belong to this configuration alone.
 *
 *   node --expose-gc --import tsx bench/engine.ts --store memory --sessions 1000 --messages 5000
 *
 * 1. baseline heap (after gc);
 * 2. `sessions` idle sessions are created the way users create them: one message each through
 *    route filter -> gateway -> instantly ended turn (one user + one assistant entry);
 * 3. heap again (after gc): memory per idle session;
 * 4. `messages` more messages from `clients` closed-loop senders (each sends its next message
 *    when its previous turn has ended), spread over the existing sessions, timing every stage.
 * Prints one line `BENCH_RESULT {json}`.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { RouteFilter } from '../src/routing';
import { Gateway, MemorySessionStore, FileSessionStore, type Turn, type SessionStore } from '../src/gateway';
import { MemoryKeyValueStore } from '../src/store/kv';
import type { ChatEnvelope } from '../src/envelope';
import { now, rng, summarize } from './lib/stats';

interface Args {
  store: 'memory' | 'file';
  sessions: number;
  messages: number;
  clients: number;
  concurrency: number;
  /** Stop the timed phase after this many ms even if not all messages were sent. */
  budgetMs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) a[argv[i].replace(/^--/, '')] = argv[i + 1];
  return {
    store: a.store === 'file' ? 'file' : 'memory',
    sessions: Number(a.sessions ?? 1000),
    messages: Number(a.messages ?? 5000),
    clients: Number(a.clients ?? 10),
    concurrency: Number(a.concurrency ?? 10),
    budgetMs: Number(a.budget ?? 30_000),
  };
}

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) g();
};

function heap(): { heapUsed: number; rss: number; external: number } {
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external + m.arrayBuffers };
}

function chatOf(i: number, text: string): ChatEnvelope {
  const peer = `peer-${i}`;
  return {
    channel: 'webchat',
    account: 'bench',
    chatId: peer,
    chatType: 'direct',
    senderId: peer,
    senderName: `User ${i}`,
    text,
    mentioned: true,
    attachments: [],
    timestamp: Date.now(),
  };
}

/**
 * Run a throwaway gateway of the same kind once, so code loading and JIT state are in the
 * heap before the baseline is taken: the difference then is the sessions alone.
 */
async function warmUp(kind: Args['store']): Promise<void> {
  const dir = kind === 'file' ? fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-bench-warm-')) : '';
  const gw = new Gateway({ store: kind === 'file' ? new FileSessionStore(dir) : new MemorySessionStore(), concurrency: 10 });
  const filter = new RouteFilter({ dmPolicy: 'open', rateLimit: 0, store: new MemoryKeyValueStore() });
  gw.on('turn', (turn) => void gw.endTurn(turn, { reply: 'ok' }));
  await gw.start();
  for (let i = 0; i < 200; i++) {
    const chat = chatOf(i % 20, 'warm');
    await filter.decide(chat);
    await gw.submit(chat, 'warm');
  }
  const until = Date.now() + 10_000;
  while ((gw.stats().active || gw.stats().waiting) && Date.now() < until) await new Promise((r) => setImmediate(r));
  await gw.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = args.store === 'file' ? fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-bench-gw-')) : '';
  await warmUp(args.store);
  const before = heap();
  const store: SessionStore = args.store === 'file' ? new FileSessionStore(dir) : new MemorySessionStore();
  const filter = new RouteFilter({ dmPolicy: 'open', rateLimit: 0, store: new MemoryKeyValueStore() });
  await filter.load();
  const gw = new Gateway({ store, concurrency: args.concurrency, maxWaiting: 100_000 });

  // Instant downstream: the turn goes straight back to the message's waiter (by gateway
  // message id). A turn can be emitted before submit() has resolved with that id: it is parked
  // in `early` and picked up there.
  const onTurn = new Map<string, (t: Turn) => void>();
  const early = new Map<string, { turn: Turn; at: number }>();
  gw.on('turn', (turn) => {
    const id = turn.items[0].id;
    const w = onTurn.get(id);
    if (w) {
      onTurn.delete(id);
      w(turn);
    } else early.set(id, { turn, at: now() });
  });
  let errors = 0;
  gw.on('error', () => errors++);
  await gw.start();

  const timings = { filter: [] as number[], submit: [] as number[], toTurn: [] as number[], end: [] as number[], total: [] as number[] };
  let lost = 0;

  /** One message through filter -> gateway -> turn -> endTurn. */
  async function one(i: number, text: string, record: boolean): Promise<void> {
    const t0 = now();
    const chat = chatOf(i, text);
    const d = await filter.decide(chat);
    const t1 = now();
    if (!d.accept) throw new Error(`route filter refused: ${d.reason}`);
    const r = await gw.submit(chat, text);
    if (r.status !== 'accepted') {
      lost++;
      return;
    }
    const t2 = now();
    const parked = early.get(r.id);
    if (parked) early.delete(r.id);
    const turn = parked ? parked.turn : await new Promise<Turn>((resolve) => onTurn.set(r.id, resolve));
    const t3 = parked ? parked.at : now();
    await gw.endTurn(turn, { reply: `ok ${text}` });
    const t4 = now();
    if (record) {
      timings.filter.push(t1 - t0);
      timings.submit.push(t2 - t1);
      timings.toTurn.push(t3 - t0);
      timings.end.push(t4 - t3);
      timings.total.push(t4 - t0);
    }
  }
  // Phase 1: create the idle sessions, in batches.
  const tPop = now();
  const batch = 500;
  for (let s = 0; s < args.sessions; s += batch) {
    const n = Math.min(batch, args.sessions - s);
    await Promise.all(Array.from({ length: n }, (_, k) => one(s + k, `hello from ${s + k}`, false)));
  }
  const populateMs = now() - tPop;
  const idle = heap();

  // Phase 2: timed closed loop over the existing sessions. Client c owns sessions c, c+K, ...
  const rand = rng(42);
  // Warm-up (not recorded): lets the JIT settle so small session counts are not penalised.
  for (let w = 0; w < 1000; w += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => one((w + k) % args.sessions, 'warm-up', false)));
  }
  let sent = 0;
  const tRun = now();
  const deadline = tRun + args.budgetMs;
  await Promise.all(
    Array.from({ length: args.clients }, async (_, c) => {
      const owned = Math.max(1, Math.floor((args.sessions - c + args.clients - 1) / args.clients));
      while (sent < args.messages && now() < deadline) {
        sent++;
        const i = c + args.clients * Math.floor(rand() * owned);
        await one(Math.min(i, args.sessions - 1), `message ${sent}`, true);
      }
    }),
  );
  const runMs = now() - tRun;
  const after = heap();
  const stats = gw.stats();
  await gw.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });

  const perSession = (idle.heapUsed - before.heapUsed) / Math.max(1, args.sessions);
  const result = {
    store: args.store,
    sessions: args.sessions,
    clients: args.clients,
    concurrency: args.concurrency,
    populateMs,
    populateRate: (args.sessions / populateMs) * 1000,
    messages: timings.total.length,
    runMs,
    throughput: (timings.total.length / runMs) * 1000,
    filter: summarize(timings.filter),
    submit: summarize(timings.submit),
    toTurn: summarize(timings.toTurn),
    end: summarize(timings.end),
    total: summarize(timings.total),
    heapBefore: before.heapUsed,
    heapIdle: idle.heapUsed,
    heapAfter: after.heapUsed,
    rssIdle: idle.rss,
    bytesPerSession: perSession,
    bytesPer10k: perSession * 10_000,
    lost,
    errors,
    rejected: stats.rejected,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
