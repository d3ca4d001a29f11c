/**
 * The real Node-RED the pipeline benchmarks run in: a child process started by
 * test/support/node-red-process.ts, loading this package as built by scripts/build.js. The
 * build is copied to a private snapshot first, so another build wiping dist/ mid-run cannot
 * pull the nodes from under the benchmark. Flows are deployed through the admin API, with the
 * provider's key as a credential (never in flow JSON on disk).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../../test/support/node-red-process';

/** Node sets the pipeline needs: [set name, built file]. */
export const NEEDED_SETS: [string, string][] = [
  ['clawflow-webchat', 'dist/nodes/webchat.js'],
  ['clawflow-webchat-in', 'dist/nodes/webchat-in.js'],
  ['clawflow-webchat-out', 'dist/nodes/webchat-out.js'],
  ['clawflow-route-filter', 'dist/nodes/route-filter.js'],
  ['clawflow-sessions', 'dist/nodes/sessions.js'],
  ['clawflow-session', 'dist/nodes/session.js'],
  ['clawflow-session-end', 'dist/nodes/session-end.js'],
  ['clawflow-llm-provider', 'dist/nodes/llm-provider.js'],
  ['clawflow-llm', 'dist/nodes/llm.js'],
];

/** Node sets of the Telegram variant of item 1 (optional: that row is skipped without them). */
export const TELEGRAM_SETS: [string, string][] = [
  ['clawflow-telegram-bot', 'dist/nodes/telegram-bot.js'],
  ['clawflow-telegram-in', 'dist/nodes/telegram-in.js'],
  ['clawflow-telegram-out', 'dist/nodes/telegram-out.js'],
];

export interface BenchNodeRed {
  nr: NodeRedProcess;
  /** The web chat page URL. */
  page: string;
  /** Sets that were built but not yet listed in package.json, added to the snapshot's list. */
  addedSets: string[];
  /** Sets whose built file is missing: the pipeline cannot run. */
  missing: string[];
  /** Telegram sets whose built file is missing: the Telegram row cannot run. */
  telegramMissing: string[];
  deploy(flow: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

export const CHAT_PATH = '/clawflow/bench-chat';

/** Copy dist/ and package.json to a temp package dir; list the sets the flow needs. */
function snapshotPackage(root: string): { pkgDir: string; addedSets: string[]; missing: string[]; telegramMissing: string[] } {
  const pkgDir = path.join(root, 'pkg');
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(pkgDir, 'dist'), { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  const nodes: Record<string, string> = (pkg['node-red'] ??= {}).nodes ??= {};
  const addedSets: string[] = [];
  const missing: string[] = [];
  const telegramMissing: string[] = [];
  for (const [set, file] of [...NEEDED_SETS, ...TELEGRAM_SETS]) {
    if (!fs.existsSync(path.join(pkgDir, file))) (NEEDED_SETS.some(([s]) => s === set) ? missing : telegramMissing).push(set);
    else if (!Object.values(nodes).includes(file)) {
      nodes[set] = file;
      addedSets.push(set);
    }
  }
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(pkgDir, 'node_modules'), 'dir');
  return { pkgDir, addedSets, missing, telegramMissing };
}

export async function startBenchNodeRed(): Promise<BenchNodeRed> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-bench-nr-'));
  const { pkgDir, addedSets, missing, telegramMissing } = snapshotPackage(root);
  const userDir = path.join(root, 'user');
  fs.mkdirSync(path.join(userDir, 'node_modules', '@clawflow'), { recursive: true });
  fs.symlinkSync(pkgDir, path.join(userDir, 'node_modules', '@clawflow', 'node-red'), 'dir');
  let nr: NodeRedProcess;
  try {
    nr = await startNodeRed({
      userDir,
      flows: [],
      settings: { logging: { console: { level: 'warn', metrics: false, audit: false } } },
    });
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    nr,
    page: `${nr.url}${CHAT_PATH}/`,
    addedSets,
    missing,
    telegramMissing,
    async deploy(flow: unknown[]): Promise<void> {
      const res = await fetch(`${nr.url}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-API-Version': 'v1', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(flow),
      });
      if (res.status !== 204 && res.status !== 200) throw new Error(`deploy failed: ${res.status} ${await res.text()}`);
    },
    async stop(): Promise<void> {
      try {
        await nr.stop();
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

export interface PipelineOptions {
  fakeUrl: string;
  /** The channel at both ends: the built-in web chat (default) or Telegram on a fake Bot API. */
  telegram?: { apiRoot: string; token: string };
  concurrency: number;
  maxWaiting?: number;
  stream?: boolean;
}

/**
 * channel in -> route filter (open) -> session -> llm -> session end -> channel out; busy
 * replies (session output 2) and the llm's apology (output 2) go to session end / webchat out
 * as a user would wire them.
 */
export function pipelineFlow(o: PipelineOptions): unknown[] {
  const tab = 'bench-tab';
  const ends = o.telegram
    ? [
        { id: 'bot', type: 'clawflow-telegram-bot', name: 'bench bot', mode: 'polling', apiRoot: o.telegram.apiRoot, credentials: { token: o.telegram.token } },
        { id: 'in', type: 'clawflow-telegram-in', z: tab, bot: 'bot', wires: [['filter']] },
        { id: 'out', type: 'clawflow-telegram-out', z: tab, bot: 'bot', format: 'plain', wires: [] },
      ]
    : [
        { id: 'chat', type: 'clawflow-webchat', name: 'bench chat', path: CHAT_PATH, title: 'bench', historyLimit: 50, origins: '' },
        { id: 'in', type: 'clawflow-webchat-in', z: tab, webchat: 'chat', wires: [['filter']] },
        { id: 'out', type: 'clawflow-webchat-out', z: tab, webchat: 'chat', wires: [] },
      ];
  return [
    { id: tab, type: 'tab', label: 'bench' },
    ...ends,
    { id: 'sessions', type: 'clawflow-sessions', name: 'bench sessions', store: 'memory', concurrency: o.concurrency, maxWaiting: o.maxWaiting ?? 1000, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group', threads: true, historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', busyText: 'BUSY', sessionBusyText: 'BUSY' },
    { id: 'provider', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: o.fakeUrl, model: 'fake-model', timeout: 60, credentials: { apiKey: 'sk-bench' } },
    { id: 'filter', type: 'clawflow-route-filter', z: tab, dmPolicy: 'open', groupPolicy: 'open', requireMention: true, owners: '', allowFrom: '', groupAllow: '', rateLimit: 0, rateWindow: 60, codeTtl: 60, maxPending: 5, output2: 'replies', wires: [['session'], ['out']] },
    { id: 'session', type: 'clawflow-session', z: tab, sessions: 'sessions', wires: [['llm'], ['out']] },
    { id: 'llm', type: 'clawflow-llm', z: tab, provider: 'provider', system: 'be brief', stream: o.stream !== false, apology: true, apologyText: 'APOLOGY', wires: [['end'], ['end']] },
    { id: 'end', type: 'clawflow-session-end', z: tab, sessions: 'sessions', wires: [['out']] },
  ];
}
