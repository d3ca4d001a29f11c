/**
 * Pipeline benchmarks inside a real Node-RED (items 1, 2, 3 and 5 of BENCHMARKS.md):
 * web chat users (WebSocket clients) -> webchat in -> route filter -> session -> llm ->
 * session end -> webchat out -> back to the users, with the LLM a loopback OpenAI-style fake
 * with a set latency. Baselines run in the same process against the same fake with the
 * `openai` SDK directly, at the same concurrency, replaying the very request bodies the
 * pipeline sent. Prints one line `BENCH_RESULT {json}`.
 *
 *   node --import tsx bench/pipeline.ts [--quick]
 *
 * To run a subset (e.g. while profiling): BENCH_PARTS=1,1t,2,3,5 picks the items, and
 * BENCH_ITEM2=100x200 (comma-separated CxL) picks item 2's rows by concurrency and latency (ms).
 */
import fs from 'fs';
import OpenAI from 'openai';
import { lastUserText } from '../test/fakes/llm-fake-base';
import { ChatUser, closeUsers, connectUsers, type Answer } from './lib/chat-users';
import { pipelineFlow, startBenchNodeRed, type BenchNodeRed } from './lib/node-red';
import { TimedFake, type FakeRun } from './lib/timed-fake';
import { TelegramUser } from './lib/telegram-users';
import { startFakeTelegram } from '../test/fakes/telegram-bot-api';
import { now, summarize } from './lib/stats';

const quick = process.argv.includes('--quick');
const ASK_TIMEOUT_MS = 60_000;
let runNo = 0;

/** CPU time used so far (ms) by the Node-RED child and by this process (users, fake, SDK). */
function cpuNow(b: BenchNodeRed): { nr: number; bench: number } {
  const u = process.cpuUsage();
  let nr = NaN;
  try {
    // /proc/<pid>/stat fields 14 and 15: user and system time in clock ticks (100 per second).
    const fields = fs.readFileSync(`/proc/${b.nr.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    nr = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    /* not Linux: reported as n/a */
  }
  return { nr, bench: (u.user + u.system) / 1000 };
}

/** Share of one core each side used between two snapshots, in percent. */
function cpuShare(a: { nr: number; bench: number }, z: { nr: number; bench: number }, elapsedMs: number) {
  return { nodeRed: ((z.nr - a.nr) / elapsedMs) * 100, bench: ((z.bench - a.bench) / elapsedMs) * 100 };
}

interface Record {
  text: string;
  answer?: Answer;
  failed?: string;
}

/** Deploy the pipeline with gateway concurrency `c`, then prove it answers (and warm it up). */
async function deploy(b: BenchNodeRed, fake: TimedFake, c: number, opts: { stream?: boolean; maxWaiting?: number } = {}): Promise<void> {
  await b.deploy(pipelineFlow({ fakeUrl: fake.url, concurrency: c, stream: opts.stream, maxWaiting: opts.maxWaiting }));
  // Warm-up at zero latency; the caller sets the run's own fake settings afterwards.
  fake.setup({ latencyMs: 0, failRate: 0, pieces: 3, chunkDelayMs: 0 });
  let user: ChatUser | undefined;
  const deadline = Date.now() + 30_000;
  while (!user) {
    try {
      user = await ChatUser.connect(b.page, `warm${++runNo}-peer-000`);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`web chat did not come up after deploy: ${(err as Error).message}\n${b.nr.log().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    for (let i = 0; i < 20; i++) await user.ask(`warm-up ${runNo} ${i}`, ASK_TIMEOUT_MS);
  } finally {
    await user.close();
  }
}

/** Every user sends its next message when the previous one is answered, `total` in all. */
async function closedLoop(users: ChatUser[], total: number, label: string): Promise<{ records: Record[]; elapsedMs: number }> {
  const records: Record[] = [];
  let sent = 0;
  const t0 = now();
  await Promise.all(
    users.map(async (u, i) => {
      while (sent < total) {
        const text = `${label}-u${i}-m${sent++}`;
        try {
          records.push({ text, answer: await u.ask(text, ASK_TIMEOUT_MS) });
        } catch (err) {
          records.push({ text, failed: (err as Error).message });
        }
      }
    }),
  );
  return { records, elapsedMs: now() - t0 };
}

/** The same chat requests, made with the openai SDK straight at the fake, `concurrency` at a time. */
async function sdkBaseline(fake: TimedFake, bodies: any[], concurrency: number) {
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL: fake.url, maxRetries: 0, timeout: ASK_TIMEOUT_MS });
  const latency: number[] = [];
  const overhead: number[] = [];
  const ingress: number[] = [];
  const egress: number[] = [];
  const firstTokenToClient: number[] = [];
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const start = now();
        let first: number | undefined;
        const stream = await client.chat.completions.create({ ...body, stream: true });
        for await (const chunk of stream as unknown as AsyncIterable<any>) {
          if (first === undefined && chunk.choices?.[0]?.delta?.content) first = now();
        }
        const end = now();
        const call = fake.calls.get(lastUserText(body));
        latency.push(end - start);
        if (call?.ended !== undefined) {
          overhead.push(end - start - (call.ended - call.arrived));
          ingress.push(call.arrived - start);
          egress.push(end - call.ended);
        }
        if (first !== undefined && call?.firstToken !== undefined) firstTokenToClient.push(first - call.firstToken);
      }
    }),
  );
  return { latency, overhead, ingress, egress, firstTokenToClient, elapsedMs: now() - t0 };
}

function ours(fake: TimedFake, records: Record[]) {
  const ok = records.filter((r) => r.answer && !r.answer.error && r.answer.text.startsWith('echo:'));
  const latency = ok.map((r) => r.answer!.doneAt - r.answer!.sentAt);
  const overhead: number[] = [];
  const ingress: number[] = [];
  const egress: number[] = [];
  const firstPartial: number[] = [];
  for (const r of ok) {
    const call = fake.calls.get(r.text);
    if (call?.ended !== undefined) {
      overhead.push(r.answer!.doneAt - r.answer!.sentAt - (call.ended - call.arrived));
      ingress.push(call.arrived - r.answer!.sentAt);
      egress.push(r.answer!.doneAt - call.ended);
    }
    if (call?.firstToken !== undefined && r.answer!.firstPartialAt !== undefined) firstPartial.push(r.answer!.firstPartialAt - call.firstToken);
  }
  return { ok: ok.length, latency, overhead, ingress, egress, firstPartial };
}

const chatBodies = (fake: TimedFake) => fake.chatRequests().map((r) => r.body);

async function item1(b: BenchNodeRed, fake: TimedFake) {
  const c = 10;
  const messages = quick ? 60 : 300;
  const run: Partial<FakeRun> = { latencyMs: 200, pieces: 3, chunkDelayMs: 0, failRate: 0 };
  fake.setup(run);
  await deploy(b, fake, c);
  fake.setup(run);
  const users = await connectUsers(b.page, `e2e${runNo}-peer`, c);
  const cpu0 = cpuNow(b);
  const { records, elapsedMs } = await closedLoop(users, messages, `e2e${runNo}`);
  const cpu = cpuShare(cpu0, cpuNow(b), elapsedMs);
  await closeUsers(users);
  const o = ours(fake, records);
  const bodies = chatBodies(fake);
  fake.setup(run);
  const base = await sdkBaseline(fake, bodies, c);
  return {
    concurrency: c,
    latencyMs: 200,
    messages,
    answered: o.ok,
    lost: messages - o.ok,
    ours: { latency: summarize(o.latency), overhead: summarize(o.overhead), ingress: summarize(o.ingress), egress: summarize(o.egress), throughput: (o.ok / elapsedMs) * 1000, cpu },
    baseline: { calls: bodies.length, latency: summarize(base.latency), overhead: summarize(base.overhead), ingress: summarize(base.ingress), egress: summarize(base.egress), throughput: (base.latency.length / base.elapsedMs) * 1000 },
  };
}

/**
 * Item 1 again with Telegram at both ends: the bot long-polls the fake Bot API, replies are
 * sent and edited there. Same LLM settings, users and message count, its own SDK baseline.
 */
async function item1Telegram(b: BenchNodeRed, fake: TimedFake) {
  if (b.telegramMissing.length) return { skipped: `built Telegram nodes missing: ${b.telegramMissing.join(', ')}` };
  const c = 10;
  const messages = quick ? 60 : 300;
  const run: Partial<FakeRun> = { latencyMs: 200, pieces: 3, chunkDelayMs: 0, failRate: 0 };
  const tg = await startFakeTelegram();
  try {
    await b.deploy(pipelineFlow({ fakeUrl: fake.url, concurrency: c, telegram: { apiRoot: tg.apiRoot, token: tg.token } }));
    fake.setup({ latencyMs: 0, failRate: 0, pieces: 3, chunkDelayMs: 0 });
    const complete = (text: string) => {
      const want = fake.answerTo(text).trim();
      return (v: string) => v.trim() === want;
    };
    const warm = new TelegramUser(tg, 9000 + ++runNo);
    for (let i = 0; i < 20; i++) {
      const text = `tgwarm${runNo}-${i}`;
      await warm.ask(text, complete(text), 30_000);
    }
    fake.setup(run);
    const users = Array.from({ length: c }, (_, i) => new TelegramUser(tg, 10_000 + runNo * 100 + i));
    const latency: number[] = [];
    const overhead: number[] = [];
    const ingress: number[] = [];
    const egress: number[] = [];
    let answered = 0;
    let sent = 0;
    const cpu0 = cpuNow(b);
    const t0 = now();
    await Promise.all(
      users.map(async (u, i) => {
        while (sent < messages) {
          const text = `tg${runNo}-u${i}-m${sent++}`;
          try {
            const a = await u.ask(text, complete(text), ASK_TIMEOUT_MS);
            answered++;
            latency.push(a.doneAt - a.sentAt);
            const call = fake.calls.get(text);
            if (call?.ended !== undefined) {
              overhead.push(a.doneAt - a.sentAt - (call.ended - call.arrived));
              ingress.push(call.arrived - a.sentAt);
              egress.push(a.doneAt - call.ended);
            }
          } catch {
            /* counted as lost below */
          }
        }
      }),
    );
    const elapsedMs = now() - t0;
    const cpu = cpuShare(cpu0, cpuNow(b), elapsedMs);
    const bodies = chatBodies(fake);
    // Stop the bot's polling before its fake goes away.
    await b.deploy([]);
    fake.setup(run);
    const base = await sdkBaseline(fake, bodies, c);
    return {
      concurrency: c,
      latencyMs: 200,
      messages,
      answered,
      lost: messages - answered,
      ours: { latency: summarize(latency), overhead: summarize(overhead), ingress: summarize(ingress), egress: summarize(egress), throughput: (answered / elapsedMs) * 1000, cpu },
      baseline: { calls: bodies.length, latency: summarize(base.latency), overhead: summarize(base.overhead), ingress: summarize(base.ingress), egress: summarize(base.egress), throughput: (base.latency.length / base.elapsedMs) * 1000 },
    };
  } finally {
    await tg.close();
  }
}

async function item2(b: BenchNodeRed, fake: TimedFake) {
  const rows = [];
  const only = process.env.BENCH_ITEM2?.split(',');
  for (const c of [10, 100]) {
    for (const l of [200, 1000]) {
      if (only && !only.includes(`${c}x${l}`)) continue;
      const run: Partial<FakeRun> = { latencyMs: l, pieces: 3, chunkDelayMs: 0, failRate: 0 };
      fake.setup(run);
      await deploy(b, fake, c);
      fake.setup(run);
      const users = await connectUsers(b.page, `ll${runNo}-peer`, 2 * c);
      const messages = (quick ? 3 : 10) * c;
      const cpu0 = cpuNow(b);
      const { records, elapsedMs } = await closedLoop(users, messages, `ll${runNo}`);
      const cpu = cpuShare(cpu0, cpuNow(b), elapsedMs);
      await closeUsers(users);
      const o = ours(fake, records);
      const server = [...fake.calls.values()].filter((x) => x.ended !== undefined).map((x) => x.ended! - x.arrived);
      const achieved = (o.ok / elapsedMs) * 1000;
      const ideal = c / (l / 1000);
      rows.push({ concurrency: c, latencyMs: l, users: 2 * c, messages, answered: o.ok, lost: messages - o.ok, achieved, ideal, ratio: achieved / ideal, cpu, serverMs: summarize(server), latency: summarize(o.latency), overhead: summarize(o.overhead) });
    }
  }
  return rows;
}

async function item3(b: BenchNodeRed, fake: TimedFake) {
  const c = 20;
  const nUsers = 100;
  const perUser = quick ? 1 : 2;
  const out: any[] = [];
  // The third run bounds the queue at 50 waiting messages so that busy replies happen too.
  for (const [failRate, maxWaiting] of [[0, 1000], [0.1, 1000], [0.1, 50]]) {
    const run: Partial<FakeRun> = { latencyMs: 1000, pieces: 3, chunkDelayMs: 0, failRate, retryAfterS: 1, seed: 7 };
    await deploy(b, fake, c, { maxWaiting });
    fake.setup(run);
    const users = await connectUsers(b.page, `crowd${runNo}-peer`, nUsers);
    const records: Record[] = [];
    const t0 = now();
    // All users send their first message at the same moment, then each the next on its reply.
    await Promise.all(
      users.map(async (u, i) => {
        for (let k = 0; k < perUser; k++) {
          const text = `crowd${runNo}-u${i}-m${k}`;
          try {
            records.push({ text, answer: await u.ask(text, ASK_TIMEOUT_MS) });
          } catch (err) {
            records.push({ text, failed: (err as Error).message });
          }
        }
      }),
    );
    const elapsedMs = now() - t0;
    await closeUsers(users);
    const answered = records.filter((r) => r.answer && !r.answer.error && r.answer.text.startsWith('echo:'));
    const busy = records.filter((r) => r.answer && r.answer.text === 'BUSY');
    const apologies = records.filter((r) => r.answer && (r.answer.error || r.answer.text === 'APOLOGY'));
    const replied = records.filter((r) => r.answer);
    const times = replied.map((r) => r.answer!.doneAt - r.answer!.sentAt);
    out.push({
      failRate,
      maxWaiting,
      concurrency: c,
      users: nUsers,
      messages: nUsers * perUser,
      answered: answered.length,
      busy: busy.length,
      apologies: apologies.length,
      lost: records.filter((r) => !r.answer).length,
      unclassified: replied.length - answered.length - busy.length - apologies.length,
      timeToReply: summarize(times),
      injected429: fake.injected.s429,
      injected500: fake.injected.s500,
      llmCalls: fake.chatRequests().length,
      elapsedMs,
    });
  }
  return out;
}

async function item5(b: BenchNodeRed, fake: TimedFake) {
  const c = 10;
  const messages = quick ? 30 : 100;
  const run: Partial<FakeRun> = { latencyMs: 200, pieces: 20, chunkDelayMs: 25, failRate: 0 };
  fake.setup(run);
  await deploy(b, fake, c);
  fake.setup(run);
  const users = await connectUsers(b.page, `stream${runNo}-peer`, c);
  const { records } = await closedLoop(users, messages, `stream${runNo}`);
  await closeUsers(users);
  const o = ours(fake, records);
  const bodies = chatBodies(fake);
  fake.setup(run);
  const base = await sdkBaseline(fake, bodies, c);
  return {
    concurrency: c,
    messages,
    pieces: 20,
    chunkDelayMs: 25,
    answered: o.ok,
    ours: summarize(o.firstPartial),
    baseline: summarize(base.firstTokenToClient),
    // How many updates of a streamed reply reach the user (the llm node paces partials).
    partialsPerReply: summarize(records.filter((r) => r.answer && !r.answer.error).map((r) => r.answer!.partials)),
  };
}

async function main(): Promise<void> {
  const fake = await new TimedFake().start();
  let b: BenchNodeRed | undefined;
  const result: any = {};
  try {
    b = await startBenchNodeRed();
    result.addedSets = b.addedSets;
    result.missing = b.missing;
    if (b.missing.length) throw new Error(`built node files missing: ${b.missing.join(', ')}`);
    const parts = (process.env.BENCH_PARTS ?? '1,1t,2,3,5').split(',');
    const step = async (name: string, fn: () => Promise<unknown>) => {
      if (!parts.includes(name)) return;
      const t = now();
      result[`item${name}`] = await fn();
      process.stderr.write(`pipeline: item ${name} done in ${((now() - t) / 1000).toFixed(1)} s\n`);
    };
    await step('1', () => item1(b!, fake));
    await step('1t', () => item1Telegram(b!, fake));
    await step('2', () => item2(b!, fake));
    await step('3', () => item3(b!, fake));
    await step('5', () => item5(b!, fake));
  } catch (err) {
    result.error = (err as Error).stack ?? String(err);
    if (b) result.nodeRedLog = b.nr.log().slice(-4000);
  } finally {
    await b?.stop().catch(() => undefined);
    await fake.close();
  }
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

void main();
