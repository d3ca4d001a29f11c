/**
 * Entry script of the loopback MCP server over stdio: `node --import tsx test/fakes/mcp-stdio-server.ts`.
 * Exits when stdin closes (the client's close) or when the `crash` tool is called.
 * `FAKE_MCP_EXIT_AT_START=1` makes it die before answering `initialize` (a server that cannot start).
 * `FAKE_MCP_START_DELAY_MS=n` makes it read stdin only after n ms (a slow `npx` start).
 * The `crash` tool writes a last line to stderr before it exits with the given code.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { buildFakeMcpServer } from './mcp-tools';

if (process.env.FAKE_MCP_EXIT_AT_START === '1') {
  process.stderr.write('fake mcp: refusing to start (FAKE_MCP_EXIT_AT_START=1)\n');
  process.exit(2);
}

const server = buildFakeMcpServer({
  onCrash: (code) => {
    process.stderr.write(`fake mcp: crashing on purpose with code ${code}\n`, () => process.exit(code));
  },
});
const transport = new StdioServerTransport();
process.stdin.on('end', () => process.exit(0));
const delay = Number(process.env.FAKE_MCP_START_DELAY_MS ?? 0);
setTimeout(() => {
  server.connect(transport).catch((err) => {
    process.stderr.write(`fake mcp: ${String(err)}\n`);
    process.exit(1);
  });
}, delay);
