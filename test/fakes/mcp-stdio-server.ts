/**
 * Entry script of the loopback MCP server over stdio: `node --import tsx test/fakes/mcp-stdio-server.ts`.
 * Exits when stdin closes (the client's close) or when the `crash` tool is called.
 * `FAKE_MCP_EXIT_AT_START=1` makes it die before answering `initialize` (a server that cannot start).
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { buildFakeMcpServer } from './mcp-tools';

if (process.env.FAKE_MCP_EXIT_AT_START === '1') {
  process.stderr.write('fake mcp: refusing to start (FAKE_MCP_EXIT_AT_START=1)\n');
  process.exit(2);
}

const server = buildFakeMcpServer();
const transport = new StdioServerTransport();
process.stdin.on('end', () => process.exit(0));
server.connect(transport).catch((err) => {
  process.stderr.write(`fake mcp: ${String(err)}\n`);
  process.exit(1);
});
