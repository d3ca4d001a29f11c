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

/** Count of active ref'd timers and child processes (unref'd timers are not listed by Node). */
export function liveHandles(): { timers: number; processes: number } {
  const info = process.getActiveResourcesInfo();
  return { timers: info.filter((r) => r === 'Timeout').length, processes: info.filter((r) => r === 'ProcessWrap').length };
}

export const fastBackoff = { initialMs: 50, maxMs: 400, factor: 2, jitter: 0 };
