/**
 * Build the SDK transport for a config. Kept apart from the connection so that the connection
 * logic (states, retries) does not care which wire it runs on.
 */
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpTransportConfig } from './config';

/** A started-or-not transport plus what the connection needs to know about it. */
export interface BuiltTransport {
  transport: Transport;
  /** The child's pid (stdio, once started), for status and for tests that check it is gone. */
  pid(): number | null;
  /** The last lines the child wrote to stderr (stdio): the usual reason a server dies. */
  stderrTail(): string;
  /** How the stdio child ended (`exit code 3`, `signal SIGKILL`), once it has; '' otherwise. */
  exitInfo(): string;
  /** End the server side of the session if the transport has one (HTTP DELETE). Never throws. */
  terminate(): Promise<void>;
  /** Remove listeners this module added. */
  dispose(): void;
}

const STDERR_KEEP = 2000;

export function buildTransport(config: McpTransportConfig): BuiltTransport {
  if (config.transport === 'stdio') {
    const t = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env: { ...getDefaultEnvironment(), ...config.env },
      cwd: config.cwd,
      // Piped, not inherited: the server's noise must not land in Node-RED's log unasked,
      // but its last words explain a crash.
      stderr: 'pipe',
    });
    let tail = '';
    const onData = (chunk: Buffer | string) => {
      tail = (tail + chunk.toString()).slice(-STDERR_KEEP);
    };
    const stderr = t.stderr;
    stderr?.on('data', onData);
    // The SDK keeps the child private and reports only "closed"; its 'exit' (which comes before
    // the 'close' the SDK acts on) says why. Without that field we simply know less.
    let exit = '';
    let child: { once(ev: 'exit', fn: (code: number | null, signal: string | null) => void): unknown; off(ev: 'exit', fn: (...a: any[]) => void): unknown } | undefined;
    const onExit = (code: number | null, signal: string | null) => {
      exit = signal ? `signal ${signal}` : code !== null ? `exit code ${code}` : '';
    };
    const start = t.start.bind(t);
    t.start = async () => {
      await start();
      child = (t as unknown as { _process?: typeof child })._process;
      child?.once('exit', onExit);
    };
    return {
      transport: t,
      pid: () => t.pid,
      stderrTail: () => tail.trim().split('\n').slice(-3).join(' | '),
      exitInfo: () => exit,
      terminate: async () => undefined,
      dispose: () => {
        stderr?.off('data', onData);
        child?.off('exit', onExit);
      },
    };
  }
  const t = new StreamableHTTPClientTransport(new URL(config.url), {
    requestInit: { headers: config.headers },
    // The connection reconnects with its own backoff; the SSE stream retries only briefly.
    reconnectionOptions: { initialReconnectionDelay: 500, maxReconnectionDelay: 5000, reconnectionDelayGrowFactor: 2, maxRetries: 2 },
  });
  return {
    transport: t,
    pid: () => null,
    stderrTail: () => '',
    exitInfo: () => '',
    terminate: async () => {
      if (!t.sessionId) return;
      try {
        await t.terminateSession();
      } catch {
        // The server may be gone already; nothing left to end then.
      }
    },
    dispose: () => undefined,
  };
}
