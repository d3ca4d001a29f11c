/**
 * One gateway instance on the Redis store, in its own process, driven by a test over IPC (the
 * test forks two of these to play two Node-RED instances sharing one Redis). It answers every
 * turn through the real OpenAI client against the test's loopback LLM fake, and reports
 * every submit and every turn back. Config comes as JSON in CLAWFLOW_REDIS_CHILD.
 *
 * parent -> child: {type:'submit', n, peer, text} | {type:'close'}
 * child -> parent: {type:'ready'} | {type:'submitted', n, status, reason?}
 *                  | {type:'ended', key, text, outcome, error?} | {type:'closed'}
 */
import OpenAI from 'openai';
import { Gateway } from '../../src/gateway';
import { RedisSessionStore } from '../../src/gateway/redis-store';
import { turnSignal } from '../../src/turn-signals';
import { chatOf } from './gateway-worker';

interface ChildConfig {
  url: string;
  prefix: string;
  llmUrl: string;
  concurrency?: number;
  maxWaiting?: number;
  maxWaitingPerSession?: number;
  leaseTtlMs?: number;
}

const cfg = JSON.parse(process.env.CLAWFLOW_REDIS_CHILD ?? '{}') as ChildConfig;
const send = (m: unknown) => process.send?.(m);

async function main(): Promise<void> {
  const store = new RedisSessionStore({
    url: cfg.url,
    prefix: cfg.prefix,
    concurrency: cfg.concurrency ?? 10,
    leaseTtlMs: cfg.leaseTtlMs ?? 1500,
    commandTimeoutMs: 1000,
  });
  const gw = new Gateway({
    store,
    concurrency: cfg.concurrency ?? 10,
    maxWaiting: cfg.maxWaiting ?? 1000,
    maxWaitingPerSession: cfg.maxWaitingPerSession ?? 1000,
  });
  const llm = new OpenAI({ apiKey: 'sk-test', baseURL: cfg.llmUrl, maxRetries: 0 });
  gw.on('error', () => undefined);
  gw.on('turn', (turn) => {
    void (async () => {
      let outcome: string;
      let error: string | undefined;
      try {
        const res = await llm.chat.completions.create(
          { model: 'slow-echo', messages: turn.history.map((h) => ({ role: h.role, content: h.content })) },
          { headers: { 'x-session-key': turn.key }, signal: turnSignal(turn.turnId) },
        );
        outcome = await gw.endTurn(turn, { reply: res.choices[0].message.content ?? '' });
      } catch (err) {
        error = (err as Error).message;
        outcome = await gw.endTurn(turn, { error: err }).catch((e: Error) => `failed: ${e.message}`);
      }
      send({ type: 'ended', key: turn.key, text: turn.text, outcome, ...(error ? { error } : {}) });
    })();
  });
  await gw.start();
  process.on('message', (m: { type: string; n?: number; peer?: string; text?: string }) => {
    if (m.type === 'submit') {
      gw.submit(chatOf(m.peer!, { text: m.text! }), m.text).then(
        (r) => send({ type: 'submitted', n: m.n, status: r.status, ...(r.status === 'rejected' ? { reason: r.reason } : {}) }),
        (err: Error) => send({ type: 'submitted', n: m.n, status: 'error', reason: err.message }),
      );
    } else if (m.type === 'close') {
      void gw.close().finally(() => {
        send({ type: 'closed' });
        process.disconnect?.();
      });
    }
  });
  send({ type: 'ready' });
}

main().catch((err) => {
  process.stderr.write(String((err as Error)?.stack ?? err));
  process.exit(1);
});
