/**
 * The tools of the loopback MCP server used by the MCP tests, built with the real SDK so the
 * client under test speaks the real protocol. One builder, two transports (stdio, Streamable HTTP).
 *
 * Tools:
 * - `echo {text}`            -> text "echo: <text>"
 * - `add {a, b}`             -> structuredContent `{ sum }` (with an outputSchema) and its text
 * - `fail {why?}`            -> an isError result
 * - `hang {}`                -> never answers until the client cancels (for timeouts)
 * - `whoami {}`              -> the env var FAKE_MCP_SECRET, the cwd and the pid (stdio checks)
 * - `crash {code?}`          -> the process exits (stdio) / `onCrash` is called (HTTP)
 * - `secret.tool {}`         -> a name with a dot: the client must make it a valid tool name
 * - `grow {}`                -> adds a tool `grown` (the SDK sends notifications/tools/list_changed)
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

export interface FakeToolsOptions {
  /** What `crash` does. Default: exit the process. */
  onCrash?: (code: number) => void;
  /** Counts calls per tool, for tests that check a call never reached the server. */
  calls?: Record<string, number>;
}

export function buildFakeMcpServer(opts: FakeToolsOptions = {}): McpServer {
  const server = new McpServer({ name: 'clawflow-fake-mcp', version: '1.0.0' });
  const count = (name: string) => {
    if (opts.calls) opts.calls[name] = (opts.calls[name] ?? 0) + 1;
  };

  server.registerTool(
    'echo',
    { description: 'Echo the text back', inputSchema: { text: z.string() } },
    async ({ text }) => {
      count('echo');
      return { content: [{ type: 'text', text: `echo: ${text}` }] };
    },
  );

  server.registerTool(
    'add',
    {
      description: 'Add two numbers',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
    },
    async ({ a, b }) => {
      count('add');
      return { content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } };
    },
  );

  server.registerTool(
    'fail',
    { description: 'Always fails', inputSchema: { why: z.string().optional() } },
    async ({ why }) => {
      count('fail');
      return { isError: true, content: [{ type: 'text', text: `failed on purpose: ${why ?? 'no reason'}` }] };
    },
  );

  server.registerTool('hang', { description: 'Never answers' }, (extra) => {
    count('hang');
    // Settles only when the client cancels the request (notifications/cancelled).
    return new Promise((resolve) => {
      extra.signal.addEventListener('abort', () => resolve({ content: [{ type: 'text', text: 'cancelled' }] }));
    });
  });

  server.registerTool('whoami', { description: 'Environment of the server process' }, async () => {
    count('whoami');
    const info = { secret: process.env.FAKE_MCP_SECRET ?? null, cwd: process.cwd(), pid: process.pid };
    return { content: [{ type: 'text', text: JSON.stringify(info) }] };
  });

  server.registerTool(
    'crash',
    { description: 'Make the server die', inputSchema: { code: z.number().optional() } },
    async ({ code }) => {
      count('crash');
      const onCrash = opts.onCrash ?? ((c: number) => process.exit(c));
      // Die after the current tick, without answering: like a real crash mid-call.
      setImmediate(() => onCrash(code ?? 3));
      return new Promise(() => undefined);
    },
  );

  server.registerTool('secret.tool', { description: 'A tool whose name needs mapping' }, async () => {
    count('secret.tool');
    return { content: [{ type: 'text', text: 'dotted name works' }] };
  });

  server.registerTool('grow', { description: 'Add a tool at runtime' }, async () => {
    count('grow');
    // Registering on a connected server makes the SDK send tools/list_changed.
    if (!grown) {
      grown = true;
      server.registerTool('grown', { description: 'Added by grow' }, async () => ({ content: [{ type: 'text', text: 'grown' }] }));
    }
    return { content: [{ type: 'text', text: 'grew' }] };
  });
  let grown = false;

  return server;
}
