/**
 * How tests start the stdio fake MCP server: the current node binary with tsx loaded, one
 * process (no npx wrapper), so the pid the client sees is the server's own.
 */
import path from 'path';
import { pathToFileURL } from 'url';

export const FAKE_STDIO_SCRIPT = path.join(__dirname, 'mcp-stdio-server.ts');
/** tsx's loader by absolute URL, so the child can start in any working directory. */
const TSX_LOADER = pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;

/** A `clawflow-mcp-server`-style stdio transport config for the fake. */
export function fakeStdioConfig(env: Record<string, string> = {}, cwd?: string) {
  return {
    transport: 'stdio' as const,
    command: process.execPath,
    args: ['--import', TSX_LOADER, FAKE_STDIO_SCRIPT],
    env,
    cwd: cwd ?? path.join(__dirname, '..', '..'),
  };
}

/** True while a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolve when `pred()` holds, polling; reject after `ms`. For waiting on external processes. */
export async function eventually(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
