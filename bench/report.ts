/**
 * Renders BENCHMARKS.md from the results the benchmark parts printed. Every number in the
 * file comes from `results`; the prose only says how the numbers were made and how to read
 * them.
 */
import os from 'os';
import { execFileSync } from 'child_process';
import path from 'path';
import { bytes, fmt, type Summary } from './lib/stats';

const root = path.resolve(__dirname, '..');

interface Results {
  engineRuns: any[];
  wide: any;
  pipeline: any;
  /** Markdown of bench/redis-gateway.ts, or a note why it is missing. */
  redis?: string;
  quick: boolean;
  full: boolean;
  totalMs: number;
  /** 1-minute load average when the run started and ended. */
  load?: [number, number];
}

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : `${fmt(v)} ms`);
const pp = (s: Summary | undefined) => (s && s.n ? `${ms(s.p50)} / ${ms(s.p99)}` : 'n/a');
const ratio = (a: number, b: number) => (b ? `${fmt(a / b, 2)}×` : 'n/a');
const rate = (v: number) => `${fmt(v)} /s`;
const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : `${fmt(v, 0)}%`);

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function machine(load?: [number, number]): string {
  const cpus = os.cpus();
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nrVersion = (() => { try { return require('node-red/package.json').version; } catch { return 'unknown'; } })();
  return table(['', ''], [
    ['CPU', `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`],
    ['memory', bytes(os.totalmem())],
    ['OS', `${os.type()} ${os.release()} (${os.arch()})`],
    ['Node.js', process.version],
    ['load average (1 min) at start / end', load ? `${fmt(load[0], 2)} / ${fmt(load[1], 2)}` : 'n/a'],
    ['Node-RED', nrVersion],
    ['commit', `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src', 'nodes']) ? ' (with uncommitted changes in src/ or nodes/)' : ''}`],
  ]);
}

function failed(what: string, r: any): string {
  return `**${what} did not run:** \`${String(r?.error ?? 'no result').split('\n')[0]}\` (see the bench output).\n`;
}

function comparison(r: any, channel: string, path: string): string {
  const o = r.ours;
  const b = r.baseline;
  return `${table(['', 'messages', 'throughput', 'time to reply p50 / p99', 'over LLM time p50 / p99'], [
  [`**ours** (${channel} → … → ${channel})`, `${r.answered} of ${r.messages}`, rate(o.throughput), pp(o.latency), pp(o.overhead)],
  ['**baseline** (SDK → fake)', b.latency.n, rate(b.throughput), pp(b.latency), pp(b.overhead)],
])}

Where the time over the LLM goes (same clock: users, fakes and SDK live in the bench process):

${table(['', 'message sent → LLM request arrives p50 / p99', 'LLM response ends → reply received p50 / p99'], [
  [`**ours**: ${path}`, pp(o.ingress), pp(o.egress)],
  ['**baseline**: SDK and HTTP only', pp(b.ingress), pp(b.egress)],
])}

- **Overhead per message added by the pipeline** (ours − baseline, over LLM time): p50 **${ms(o.overhead.p50 - b.overhead.p50)}**, p99 **${ms(o.overhead.p99 - b.overhead.p99)}**.
- **Throughput ratio ours / baseline: ${ratio(o.throughput, b.throughput)}**. Messages lost: ${r.lost}.
- CPU during our run: Node-RED ${pct(o.cpu?.nodeRed)} of one core, the bench process (users + fakes) ${pct(o.cpu?.bench)}.
`;
}

function item1(p: any): string {
  const r = p.item1;
  if (!r) return failed('Item 1', p);
  const t = p.item1t;
  const tg = !t
    ? failed('The Telegram variant', p)
    : t.skipped
      ? `**Not run:** ${t.skipped}.\n`
      : comparison(t, 'Telegram', 'Bot API long poll, telegram in, route filter, session, llm node, HTTP / llm node, session end, telegram out, Bot API sendMessage / editMessageText');
  return `## 1. End to end: our pipeline vs. the same LLM calls made directly

### 1a. Web chat

${r.concurrency} web chat users send ${r.messages} messages in all, each user its next message as soon as
its reply arrives (gateway concurrency ${r.concurrency}, LLM latency ${r.latencyMs} ms, streamed reply).
Baseline: the same ${r.baseline.calls} request bodies the llm node sent, replayed with the \`openai\` SDK straight
at the same fake, ${r.concurrency} at a time. "Over LLM time" is each message's time minus the time the fake
spent on its call (arrival to last byte), so it is what sits around the LLM call.

${comparison(r, 'web chat', 'web chat in, route filter, session, llm node, HTTP / llm node, session end, web chat out, WebSocket')}
### 1b. Telegram (loopback fake Bot API)

The same run with Telegram at both ends: each user has a private chat; a message is an update
handed to the bot's long poll; the reply counts as received when the bot's message in that chat
(sent, then edited in place while streaming) holds the complete answer.

${tg}`;
}

function item2(p: any): string {
  const rows = p.item2;
  if (!rows) return failed('Item 2', p);
  return `## 2. Little's law: achieved vs. ideal throughput

With LLM latency L and gateway concurrency C the ideal is C / L messages per second. Each row
has 2·C users (so C turns always wait to run) sending ${rows[0].messages / rows[0].concurrency}·C messages in all,
closed loop. "LLM time" is what the fake took per call (latency plus streaming).

${table(['C', 'L', 'users', 'messages', 'achieved', 'ideal C/L', '**achieved / ideal**', 'LLM time mean', 'slot time per turn beyond the LLM', 'time to reply p50 / p99', 'CPU Node-RED / bench', 'Node-RED CPU per message'],
  rows.map((r: any) => [r.concurrency, `${r.latencyMs} ms`, r.users, `${r.answered} of ${r.messages}`, rate(r.achieved), rate(r.ideal), `**${fmt(r.ratio, 2)}**`, ms(r.serverMs.mean), ms((r.concurrency / r.achieved) * 1000 - r.serverMs.mean), pp(r.latency), `${pct(r.cpu?.nodeRed)} / ${pct(r.cpu?.bench)}`, ms((r.cpu?.nodeRed / 100) * (1000 / r.achieved))]))}

"Slot time per turn beyond the LLM" is C / achieved − LLM time: how long each of the C slots
spends per turn on everything but the LLM call (Little's law read backwards). It includes the
run's start and drain (the first C turns start together and the last round can be partly
empty), worth about L divided by the number of rounds (10). CPU is the share of one core each process used during the row (the machine has ${os.cpus().length}); a row
far below 1.00 with Node-RED near 100% is bound by the Node-RED process (one JavaScript thread).
"Node-RED CPU per message" is the CPU time the Node-RED process spent per answered message (all
nodes, web chat and HTTP included); compare it with the gateway's own cost in item 4.
`;
}

function item3(p: any): string {
  const rows = p.item3;
  if (!rows) return failed('Item 3', p);
  const [clean, faulty] = rows;
  const r0 = rows[0];
  const row = (r: any) => [r.failRate ? `${fmt(r.failRate * 100, 0)}% failing` : 'no failures', r.maxWaiting, r.messages, `**${r.lost}**`, r.answered, r.busy, r.apologies, pp(r.timeToReply), `${r.injected429} / ${r.injected500}`, r.llmCalls];
  return `## 3. ${r0.users} users at once, LLM latency 1 s, transient failures

${r0.users} web chat users send their first message at the same moment and their next one when the
reply arrives (${r0.messages / r0.users} each, ${r0.messages} in all). Gateway concurrency ${r0.concurrency}. In a
failing run ${fmt(faulty?.failRate * 100, 0)}% of LLM calls fail: half with 429 and \`Retry-After: 1\`, half with 500; the llm
node retries (its default policy). Lost = sent without any reply within 60 s (must be 0). A busy
reply is the session node's answer when the queue bound (waiting messages across all sessions)
is reached; an apology is the llm node's reply after it gave up. The last row lowers the queue
bound on purpose so that busy replies happen. Time to reply counts every reply (busy ones too).

${table(['run', 'queue bound', 'messages', 'lost', 'answered', 'busy replies', 'apologies', 'time to reply p50 / p99', 'injected 429 / 500', 'LLM calls'], rows.map(row))}
${rows.some((r: any) => r.unclassified) ? `\n- Replies that were none of answer, busy or apology: ${rows.map((r: any) => r.unclassified).join(' / ')}.` : ''}${faulty ? `
- Time to reply with failures / without: p50 **${ratio(faulty.timeToReply.p50, clean.timeToReply.p50)}**, p99 **${ratio(faulty.timeToReply.p99, clean.timeToReply.p99)}**.` : ''}
`;
}

function item4(runs: any[], wide: any): string {
  const ok = runs.filter((r) => !r.error);
  const base = (store: string) => ok.find((r) => r.store === store);
  const rows = ok.map((r) => [
    r.store,
    fmt(r.sessions, 0),
    r.sessions >= 1000 ? bytes(r.bytesPer10k) : 'too few to measure',
    rate(r.populateRate),
    rate(r.throughput),
    `${ratio(r.throughput, base(r.store)?.throughput ?? NaN)}`,
    pp(r.toTurn),
    pp(r.end),
    pp(r.filter),
    r.lost,
  ]);
  const w = wide && !wide.error ? wide : undefined;
  const errs = runs.filter((r) => r.error).map((r) => `- a run failed: \`${String(r.error).split('\n')[0]}\``).join('\n');
  return `## 4. Scale: route filter + session gateway with an instant downstream

No Node-RED, no LLM: \`RouteFilter\` (dmPolicy open) → \`Gateway.submit\` → the \`turn\` event → \`endTurn\`
at once. Each row runs in a fresh process: first N sessions are created the way users create them
(one message each, answered: one user and one assistant entry in each history), the heap is
measured after a full GC (memory per 10,000 idle sessions), then ${ok[0]?.clients ?? 10} closed-loop senders send
messages spread over those sessions (gateway concurrency ${ok[0]?.concurrency ?? 10}), timing every stage.

${table(['store', 'sessions', 'heap per 10,000 idle sessions', 'sessions created', 'messages/s', 'vs. fewest sessions', 'added latency in → turn p50 / p99', 'endTurn p50 / p99', 'route filter p50 / p99', 'lost'], rows)}
${errs ? '\n' + errs + '\n' : ''}
- Gateway throughput at 100 concurrent senders, concurrency 100, 1,000 sessions (memory store): ${w ? `**${rate(w.throughput)}**, added latency p50 / p99 ${pp(w.toTurn)} (${ratio(w.throughput, ok.find((r) => r.store === 'memory' && r.sessions === 1000)?.throughput ?? NaN)} of the concurrency-10 row)` : 'n/a'}.
- The file store journals every event with an fsync before it answers, so its rows measure the
  disk. ${ok.some((r) => r.store === 'file' && r.sessions === 100000) ? '' : 'Its 100,000-session row is left out of the default run because creating them takes minutes (one fsync per event); `CLAWFLOW_BENCH_FULL=1 npm run bench` adds it.'}
`;
}

function item5(p: any): string {
  const r = p.item5;
  if (!r) return failed('Item 5', p);
  return `## 5. Streaming: provider's first token to the first partial

The fake streams each answer in ${r.pieces} pieces, ${r.chunkDelayMs} ms apart (after 200 ms latency); ${r.concurrency} users, ${r.messages}
messages. Ours: from the moment the fake writes the first content chunk to the moment the web chat
user receives the first partial with text (llm node → session end → webchat out → WebSocket).
Baseline: the same request bodies with the \`openai\` SDK, to the first content delta it yields.

${table(['', 'first token → first partial p50 / p99', 'max'], [
  ['**ours** (to the web chat user)', pp(r.ours), ms(r.ours.max)],
  ['**baseline** (to the SDK caller)', pp(r.baseline), ms(r.baseline.max)],
])}

- Added by the pipeline: p50 **${ms(r.ours.p50 - r.baseline.p50)}**, p99 **${ms(r.ours.p99 - r.baseline.p99)}**.${
    r.partialsPerReply
      ? `
- Partials with text per reply at the user: mean **${fmt(r.partialsPerReply.mean, 1)}** (p50 ${fmt(r.partialsPerReply.p50, 0)}, max ${fmt(r.partialsPerReply.max, 0)}) for ${r.pieces} content chunks from the provider: the llm node sends at most one partial per 50 ms, so a fast token-per-chunk stream does not become one message per token.`
      : ''
  }
`;
}

export function render(res: Results): string {
  const p = res.pipeline ?? {};
  const cmd = res.quick ? 'node bench/run.js --quick' : res.full ? 'CLAWFLOW_BENCH_FULL=1 npm run bench' : 'npm run bench';
  const added = p.addedSets?.length
    ? `\n> The node sets ${p.addedSets.join(', ')} were built but not yet registered in package.json when this ran; the benchmark's private copy of the package listed them itself.\n`
    : '';
  const pipelineError = p.error ? `\n> **The Node-RED pipeline part failed**, items 1, 2, 3 and 5 are incomplete:\n>\n> \`\`\`\n${String(p.error).split('\n').slice(0, 6).map((l) => '> ' + l).join('\n')}\n> \`\`\`\n` : '';
  return `# Benchmarks

Generated by \`${cmd}\` (bench/run.js) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${fmt(res.totalMs / 1000, 0)} s.
**Do not edit by hand**: every figure below is measured by the run that wrote this file; run the
command again to refresh it.

${machine(res.load)}
${added}${pipelineError}
## How to read this

- Everything runs on this one machine and on loopback (127.0.0.1): the fake LLM, the simulated
  users and (items 1, 2, 3, 5) a real Node-RED ${'' /* version in the table */}child process with this package as built by
  \`scripts/build.js\`. The bench process (users, fake LLM, SDK baseline) and Node-RED share the CPUs.
- A comparison is always measured in the same run: ours and the baseline against the same fake,
  with the same request bodies and the same concurrency. The ratio is the figure to look at; the
  absolute numbers move with the machine and with whatever else runs on it (the load average
  above: on 2 cores, anything near or above 2 means other work competed with the run).
- A difference of two percentiles (ours − baseline) below zero, or a ratio a little above 1,
  means the difference is smaller than the run-to-run noise.
- p50 / p99: the median and the 99th percentile of the per-message times (nearest rank). With a
  few hundred messages a p99 is close to the worst case; read it as "the slow tail".
- "Time to reply" is measured where a user is: from sending the message (a web chat WebSocket
  frame, or a Telegram update handed to the bot's long poll) to receiving the complete reply. "Over LLM time" removes the time the fake LLM itself took
  for that very call, leaving what our nodes (or, for the baseline, the SDK and HTTP) add.
- The LLM is a fake with a fixed latency, so these figures say what clawflow costs on top of a
  provider, not how fast any provider is.

${item1(p)}
${item2(p)}
${item3(p)}
${item4(res.engineRuns, res.wide)}
${item5(p)}
## 6. Sessions on Redis (file store vs Redis, one vs two instances)

${res.redis ?? '> Not run.'}

## What the parts are

| file | what |
| --- | --- |
| \`bench/run.js\` | runs each part in its own process, collects results, writes this file |
| \`bench/engine.ts\` | item 4: route filter + gateway alone, memory and file stores, heap after GC |
| \`bench/pipeline.ts\` | items 1, 2, 3, 5 in a real Node-RED, with the SDK baselines |
| \`bench/lib/timed-fake.ts\` | the OpenAI fake of \`test/fakes\` with per-call timing and failure injection |
| \`bench/lib/chat-users.ts\` | web chat users over the page's real WebSocket protocol |
| \`bench/lib/telegram-users.ts\` | Telegram users on the loopback fake Bot API of \`test/fakes\` |
| \`bench/lib/node-red.ts\` | starts Node-RED on a private copy of the build, deploys the flow |
| \`bench/redis-gateway.ts\` | item 6: the gateway on the file store vs Redis (127.0.0.1:6379), Redis memory per idle session |

Why it is built this way: docs/decisions/0090-benchmark-method.md.
`;
}
