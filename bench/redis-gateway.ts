/**
 * Benchmark of the session gateway on Redis (issue 13): messages/s and the latency the
 * gateway adds (submit -> turn handed out) with the file store vs Redis on one instance, one vs
 * two instances on Redis (two gateways with their own connections, in this process), and the
 * memory Redis needs per 10,000 idle sessions (INFO memory before/after). Turns are answered
 * at once, so the figures are the gateway's own cost, not a model's.
 *
 * `runRedisBench()` returns a markdown section; run alone: `npx tsx bench/redis-gateway.ts`.
 * Redis: CLAWFLOW_BENCH_REDIS (default redis://127.0.0.1:6379); keys under a random prefix,
 * deleted afterwards.
 */
import crypto from 'crypto';
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';
import { Redis } from 'ioredis';
import { FileSessionStore, Gateway, type SessionStore } from '../src/gateway';
import { RedisSessionStore } from '../src/gateway/redis-store';
import type { ChatEnvelope } from '../src/envelope';
import { bytes, fmt, now, summarize } from './lib/stats';

const REDIS = process.env.CLAWFLOW_BENCH_REDIS || 'redis://127.0.0.1:6379';

function chat(peer: string, text: string): ChatEnvelope {
  return { channel: 'bench', account: 'bot', chatId: peer, chatType: 'direct', senderId: peer, senderName: peer, text, messageId: text, mentioned: true, attachments: [], timestamp: Date.now() };
}

interface Run {
  perSec: number;
  /** submit -> the turn is handed out (what the store adds before work can start). */
  toTurn: { p50: number; p99: number };
  /** submit -> endTurn resolved (the whole round trip through the store). */
  roundTrip: { p50: number; p99: number };
  answered: number;
}

/**
 * `senders` closed-loop senders, each owning `sessions / senders` sessions and sending its next
 * message when the previous turn has ended, `messages` in all, round robin over `gateways`.
 * Closed loop, so the latencies are what the store adds, not time spent waiting in a queue.
 */
async function drive(gateways: Gateway[], messages: number, sessions: number, senders: number): Promise<Run> {
  const waiting = new Map<string, { sentAt: number; turnAt?: number; resolve: () => void }>();
  const toTurn: number[] = [];
  const roundTrip: number[] = [];
  let answered = 0;
  for (const g of gateways) {
    g.on('turn', (t) => {
      const at = now();
      for (const m of t.items) {
        const w = waiting.get(m.text);
        if (w) toTurn.push(at - w.sentAt);
      }
      void g.endTurn(t, { reply: 'ok' }).then(() => {
        const end = now();
        for (const m of t.items) {
          const w = waiting.get(m.text);
          if (!w) continue;
          waiting.delete(m.text);
          roundTrip.push(end - w.sentAt);
          answered++;
          w.resolve();
        }
      });
    });
    await g.start();
  }
  let next = 0;
  const perSender = Math.max(1, Math.floor(sessions / senders));
  const sender = async (s: number) => {
    for (let k = 0; ; k++) {
      const i = next++;
      if (i >= messages) return;
      const text = `m${i}`;
      const peer = `p${s * perSender + (k % perSender)}`;
      const done = new Promise<void>((resolve) => waiting.set(text, { sentAt: now(), resolve }));
      const result = await gateways[i % gateways.length].submit(chat(peer, text), text);
      if (result.status !== 'accepted') throw new Error(`message ${text} refused: ${JSON.stringify(result)}`);
      await done;
    }
  };
  const t0 = now();
  await Promise.all(Array.from({ length: senders }, (_, s) => sender(s)));
  const secs = (now() - t0) / 1000;
  const a = summarize(toTurn);
  const b = summarize(roundTrip);
  return { perSec: answered / secs, toTurn: { p50: a.p50, p99: a.p99 }, roundTrip: { p50: b.p50, p99: b.p99 }, answered };
}

async function dropPrefix(r: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
}

/** Closed-loop senders; as many as the gateway's concurrency, so turns never wait for a slot. */
const SENDERS = 10;
const gwOpts = { concurrency: 10, maxWaiting: 100_000, maxWaitingPerSession: 10_000 };

export async function runRedisBench(opts: { messages?: number; idleSessions?: number } = {}): Promise<{ markdown: string }> {
  const messages = opts.messages ?? 5000;
  const idle = opts.idleSessions ?? 10_000;
  const admin = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await admin.connect();
  } catch (err) {
    admin.disconnect();
    return { markdown: `Skipped: no Redis at ${REDIS} (${(err as Error).message}).\n` };
  }
  const prefixes: string[] = [];
  const redisStore = (concurrency = 10) => {
    const prefix = `clawflow-bench:${crypto.randomUUID().slice(0, 8)}:`;
    prefixes.push(prefix);
    return { prefix, make: () => new RedisSessionStore({ url: REDIS, prefix, concurrency }) };
  };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clawflow-bench-redis-'));
  const rows: [string, Run][] = [];
  try {
    const once = async (label: string, stores: SessionStore[]) => {
      const gws = stores.map((store) => new Gateway({ store, ...gwOpts }));
      try {
        rows.push([label, await drive(gws, messages, 200, SENDERS)]);
      } finally {
        for (const g of gws) await g.close();
      }
    };
    await once('file store, 1 instance', [new FileSessionStore(dir)]);
    const one = redisStore();
    await once('Redis, 1 instance', [one.make()]);
    const two = redisStore();
    await once('Redis, 2 instances', [two.make(), two.make()]);

    // Memory per idle session: each gets one message and one reply, then sits idle.
    const mem = redisStore(1000);
    const store = mem.make();
    await store.open();
    const before = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    for (let i = 0; i < idle; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, idle - i) }, async (_, j) => {
          const peer = `idle${i + j}`;
          const key = `bench:bot:dm:${peer}`;
          const text = 'hello, how are you today?';
          await store.enqueue({ id: crypto.randomUUID(), key, text, chat: chat(peer, text), ts: Date.now() }, { maxWaiting: 1e9, maxWaitingPerSession: 10 });
          const t = await store.claim(key, crypto.randomUUID(), 'one', 40, Date.now());
          if (t) await store.finish(key, t.turnId, t.fence, { status: 'done', reply: 'Fine, thanks! How can I help?' }, Date.now());
        }),
      );
    }
    const after = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await store.close();

    const base = rows[0][1];
    const lines = [
      'Messages through the gateway engine with an instant downstream, same load for each setup.',
      '',
      `${messages} messages from 200 sessions by ${SENDERS} closed-loop senders (each sends its next message when its turn has ended), ` +
        'gateway concurrency 10, every turn answered at once: the figures are the store\'s own cost. ' +
        '"To turn": submit until the turn is handed out; "round trip": submit until endTurn has resolved (the reply is journaled). ' +
        'Two instances: two gateways with their own Redis connections in one process, messages alternating between them. ' +
        'Every row is measured in this run; the ratio compares it with the file store row.',
      '',
      '| setup | answered | messages/s | **vs file store** | to turn p50 / p99 | round trip p50 / p99 |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        ([label, r]) =>
          `| ${label} | ${r.answered} of ${messages} | ${fmt(r.perSec, 0)} | **${fmt(r.perSec / base.perSec, 2)}×** | ` +
          `${fmt(r.toTurn.p50)} ms / ${fmt(r.toTurn.p99)} ms | ${fmt(r.roundTrip.p50)} ms / ${fmt(r.roundTrip.p99)} ms |`,
      ),
      '',
      `Redis memory for ${idle.toLocaleString('en-US')} idle sessions (one message and one reply each): ${bytes(after - before)} ` +
        `(${bytes((after - before) / idle)} per session, INFO used_memory before/after).`,
      '',
    ];
    return { markdown: lines.join('\n') };
  } finally {
    for (const p of prefixes) await dropPrefix(admin, p).catch(() => undefined);
    admin.disconnect();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runRedisBench({ messages: Number(process.env.BENCH_MESSAGES) || undefined }).then(
    (r) => process.stdout.write(r.markdown),
    (err) => {
      process.stderr.write(String((err as Error).stack ?? err));
      process.exit(1);
    },
  );
}
