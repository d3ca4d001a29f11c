/**
 * Plumbing for the end-to-end pipeline tests (test/e2e/pipeline-*.test.ts): whole bots made of
 * the real clawflow nodes in one node-red-node-test-helper runtime, talking to the loopback
 * fakes through the real client libraries.
 *
 * - {@link pipelineModules}: every clawflow node module plus Node-RED's own function node, with
 *   the real en-US texts (the helper's RED._ would return bare keys, and a test that asserts
 *   "the user got an apology" should read the apology a user reads).
 * - {@link LeakWatch}: everything the runtime said (every msg sent by any node, every status,
 *   every log line), so a test can prove a secret never appears in any of it.
 * - {@link GatedOpenAIFake}: the OpenAI fake with a hook before each streamed chunk, so a test
 *   can hold a stream at a known point (until a draft is on screen, until a redeploy is done)
 *   instead of guessing with sleeps.
 */
import fs from 'fs';
import path from 'path';
import type http from 'http';
import { helper, runtimeName } from './node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import type { RecordedRequest, ScriptedReply, StreamControl } from '../fakes/llm-fake-base';

const root = path.resolve(__dirname, '..', '..');

/** Every en-US message catalog of the package, merged (top-level keys are node types). */
function catalogs(): Record<string, any> {
  const dir = path.join(root, 'locales', 'en-US');
  const out: Record<string, any> = {};
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.json')) Object.assign(out, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  return out;
}

let merged: Record<string, any> | undefined;

/** RED._ with the real en-US texts and `__param__` substitution, as Node-RED's i18n does. */
export function translate(key: string, params: Record<string, unknown> = {}): string {
  merged ??= catalogs();
  const value = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), merged);
  if (typeof value !== 'string') return key;
  return value.replace(/__(\w+)__/g, (_m, name) => (name in params ? String(params[name]) : `__${name}__`));
}

/** Node-RED's own function node from the runtime under test (4.x or 5.x). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const functionNode = require(
  require.resolve('@node-red/nodes/core/function/10-function.js', { paths: [path.dirname(require.resolve(`${runtimeName}/package.json`))] }),
);

let httpNode: any;
let mountedOn: any;

/**
 * The node modules for helper.load: `basenames` of nodes/*.ts (default: all of them) with real
 * texts, and the function node. The web chat config node's RED.httpNode is captured for
 * {@link mountHttpNode}.
 */
export function pipelineModules(basenames?: string[]): any[] {
  const names = basenames ?? fs.readdirSync(path.join(root, 'nodes')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
  const mods = names.map((b) => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(path.join(root, 'nodes', b));
    return (RED: any) => {
      RED._ = translate;
      if (b === 'webchat') httpNode = RED.httpNode;
      return mod(RED);
    };
  });
  return [...mods, functionNode];
}

/** Call after helper.startServer(): serve RED.httpNode (web chat pages, webhooks) on the helper's server. */
export function mountHttpNode(): void {
  const app = (helper as any)._app;
  if (mountedOn === app) return;
  mountedOn = app;
  app.use((req: any, res: any, next: any) => (httpNode ? httpNode(req, res, next) : next()));
}

/**
 * What the runtime said: the helper spies on Node.prototype send/status/log/warn/error and on
 * RED.log. Read after the test's actions (the spies live until helper.unload()).
 */
export class LeakWatch {
  /** Every msg sent by any node, every status, every log line, as text. */
  static everything(): string[] {
    const proto = (helper as any)._NodePrototype;
    const out: string[] = [];
    for (const m of ['send', 'status', 'log', 'warn', 'error', 'debug', 'trace']) {
      const spy = proto?.[m];
      if (!spy?.getCalls) continue;
      for (const c of spy.getCalls()) out.push(`${m}: ${safeJson(c.args)}`);
    }
    const log = helper.log();
    if (log?.getCalls) for (const c of log.getCalls()) out.push(`log: ${safeJson(c.args)}`);
    return out;
  }

  /** The lines that contain `secret`. */
  static linesWith(secret: string): string[] {
    return LeakWatch.everything().filter((l) => l.includes(secret));
  }

  /** Log lines (RED.log) at warn level or worse, as text. */
  static problems(): string[] {
    const log = helper.log();
    if (!log?.getCalls) return [];
    return log
      .getCalls()
      .map((c: any) => c.args[0])
      .filter((e: any) => e && typeof e.level === 'number' && e.level <= 30)
      .map((e: any) => `${e.type ?? ''}:${e.id ?? ''} ${String(e.msg)}`);
  }
}

function safeJson(v: unknown): string {
  const seen = new WeakSet();
  try {
    return JSON.stringify(v, (_k, x) => {
      if (x instanceof Error) return { name: x.name, message: x.message, stack: x.stack, cause: (x as any).cause };
      if (x && typeof x === 'object') {
        if (seen.has(x)) return '[circular]';
        seen.add(x);
      }
      return x;
    });
  } catch (err) {
    return `[unserialisable: ${(err as Error).message}]`;
  }
}

/** Called before chunk `index` of a streamed reply; resolve to let it go. */
export type ChunkGate = (index: number, req: RecordedRequest) => Promise<void> | void;

/**
 * The OpenAI fake with {@link gate}: a test holds a stream before a chosen chunk until
 * something observable happened (never a timed pause).
 */
export class GatedOpenAIFake extends OpenAIFake {
  gate?: ChunkGate;

  protected async writeReply(res: http.ServerResponse, reply: ScriptedReply, req: RecordedRequest, ctl: StreamControl): Promise<void> {
    const gate = this.gate;
    const paced: StreamControl = {
      pace: async (index) => {
        if (gate) await gate(index, req);
        await ctl.pace(index);
      },
    };
    return super.writeReply(res, reply, req, paced);
  }
}

/** Poll a condition of the system under test every 10 ms (the code under test never sleeps). */
export async function until(what: string, cond: () => unknown, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Unhandled rejections seen while a suite runs (Node-RED must never produce one). */
export function watchUnhandled(): { list: unknown[]; stop(): void } {
  const list: unknown[] = [];
  const onRej = (reason: unknown) => list.push(reason);
  process.on('unhandledRejection', onRej);
  return { list, stop: () => process.off('unhandledRejection', onRej) };
}

export { helper };
