import async_hooks from 'async_hooks';
import type { McpConnection, McpState } from '../../../../src/llm/mcp';

/** Resolve with the error text when `conn` reaches `state` (now or later); reject after `ms`. */
export function waitState(conn: McpConnection, state: McpState, ms = 10_000): Promise<string | null> {
  if (conn.state === state) return Promise.resolve(conn.error);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.off('state', on);
      reject(new Error(`state never became ${state}; it is ${conn.state} (${conn.error})`));
    }, ms);
    const on = (s: McpState, err: string | null) => {
      if (s !== state) return;
      clearTimeout(timer);
      conn.off('state', on);
      resolve(err);
    };
    conn.on('state', on);
  });
}

/**
 * Count of active ref'd timers and child processes (unref'd timers are not listed by Node).
 * Async so that mocha's own test-timeout timer (armed after the test function returns its
 * promise) is already there when a test takes its "before" count.
 */
export async function liveHandles(): Promise<{ timers: number; processes: number }> {
  await new Promise((r) => setImmediate(r));
  const info = process.getActiveResourcesInfo();
  return { timers: info.filter((r) => r === 'Timeout').length, processes: info.filter((r) => r === 'ProcessWrap').length };
}

export const fastBackoff = { initialMs: 50, maxMs: 400, factor: 2, jitter: 0 };

/**
 * Track the timers that code under src/llm/mcp/ creates (by the stack at creation) and report
 * how many are still pending. Precise where a global count is not: fetch (undici) and the HTTP
 * server keep timers of their own.
 */
export function trackMcpTimers(): { pending(): Promise<string[]>; stop(): void } {
  const live = new Map<number, string>();
  const hook = async_hooks.createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      // The frame that called setTimeout: ours, not a library's (the SDK's own unref'd timers).
      const caller = stack
        .split('\n')
        .slice(1)
        .find((l) => !/\(node:|AsyncHook\.init|emitInitScript/.test(l) && /\(|at /.test(l) && !/^\s*Error/.test(l));
      if (caller && /(?<!test)[\\/]src[\\/]llm[\\/]mcp[\\/]/.test(caller)) live.set(id, caller.trim());
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  return {
    // Destroy hooks of cleared timers run a moment later; let them.
    pending: async () => {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      return [...live.values()];
    },
    stop: () => hook.disable(),
  };
}
