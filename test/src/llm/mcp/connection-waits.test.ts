// How long things wait on an MCP server that is not there (yet): a turn waiting for the first
// connect (whenToolsKnown), a tool call while the server is down (capped, then "unreachable"),
// and what a crashed stdio child's error says (exit code, stderr).
import assert from 'assert';
import { McpConnection, toolSource } from '../../../../src/llm/mcp';
import { startFakeMcpHttp, type FakeMcpHttp } from '../../../fakes/mcp-http-server';
import { fakeStdioConfig } from '../../../fakes/mcp-launch';
import { waitState, trackMcpTimers, fastBackoff } from './helpers';

const run = (conn: McpConnection, name: string, args: Record<string, unknown>, timeoutMs: number) => {
  const tool = toolSource(conn).listTools().find((t) => t.name === name);
  assert.ok(tool, `tool ${name} offered`);
  return tool.run(args, { signal: new AbortController().signal, timeoutMs });
};

describe('McpConnection: waiting for a server that is not there yet', function () {
  let fake: FakeMcpHttp | undefined;
  let conn: McpConnection | undefined;
  afterEach(async () => {
    await conn?.close();
    await fake?.close();
    conn = undefined;
    fake = undefined;
  });

  it('whenToolsKnown waits for a slow first connect and resolves with the tools known, leaving no timer', async () => {
    fake = await startFakeMcpHttp({ initializeDelayMs: 400 });
    const timers = trackMcpTimers();
    try {
      conn = new McpConnection({ transport: 'http', url: fake.url, headers: {} }, { name: 'slow', backoff: fastBackoff, pingIntervalMs: 0 });
      conn.start();
      assert.strictEqual(conn.state, 'connecting');
      assert.deepStrictEqual(conn.tools, []);
      assert.strictEqual(await conn.whenToolsKnown(10_000), true);
      assert.strictEqual(conn.state, 'ready');
      assert.ok(conn.tools.some((t) => t.name === 'echo'));
      // Already known: at once.
      assert.strictEqual(await conn.whenToolsKnown(10_000), true);
      assert.deepStrictEqual(await timers.pending(), []);
      assert.strictEqual(conn.listenerCount('state'), 0);
    } finally {
      timers.stop();
    }
  });

  it('whenToolsKnown gives up on abort and on its timeout, with false and nothing left behind', async () => {
    fake = await startFakeMcpHttp({ initializeDelayMs: 5_000 });
    const timers = trackMcpTimers();
    try {
      conn = new McpConnection({ transport: 'http', url: fake.url, headers: {} }, { name: 'slower', backoff: fastBackoff, pingIntervalMs: 0 });
      conn.start();
      const ctl = new AbortController();
      const aborted = conn.whenToolsKnown(10_000, ctl.signal);
      ctl.abort();
      assert.strictEqual(await aborted, false);
      assert.strictEqual(await conn.whenToolsKnown(50), false);
      assert.strictEqual(conn.state, 'connecting');
      assert.strictEqual(conn.listenerCount('state'), 0);
      await conn.close();
      assert.deepStrictEqual(await timers.pending(), []);
    } finally {
      timers.stop();
    }
  });

  it('a call while the HTTP server is down answers "unreachable" with the last error after the capped wait, not after the tool timeout', async function () {
    this.timeout(10_000); // the tool timeout below is 60 s: only the cap can answer in time
    fake = await startFakeMcpHttp();
    conn = new McpConnection({ transport: 'http', url: fake.url, headers: {} }, { name: 'remote', backoff: fastBackoff, pingIntervalMs: 0, callReconnectWaitMs: 300 });
    conn.start();
    await waitState(conn, 'ready');
    await fake.crash();
    const first = await run(conn, 'echo', { text: 'lost' }, 60_000); // notices the dead server
    assert.strictEqual(first.isError, true);
    await waitState(conn, 'reconnecting');
    const r = await run(conn, 'echo', { text: 'still down' }, 60_000);
    assert.strictEqual(r.isError, true);
    assert.match(r.content, /MCP tool "echo" on server "remote" could not run: the server is unreachable/);
    assert.match(r.content, /still reconnecting after 300 ms; the call was not sent/);
    assert.ok(conn.error, 'a last connection error is known');
    assert.ok(r.content.includes(conn.error!.slice(0, 40)), `the last connection error is in: ${r.content}`);
    assert.doesNotMatch(r.content, /did not answer within/);
    assert.strictEqual(fake.calls.echo, undefined);
  });

  it('a call while reconnecting still waits for a server that comes back within the cap', async () => {
    fake = await startFakeMcpHttp();
    conn = new McpConnection({ transport: 'http', url: fake.url, headers: {} }, { name: 'remote', backoff: fastBackoff, pingIntervalMs: 0, callReconnectWaitMs: 8_000 });
    conn.start();
    await waitState(conn, 'ready');
    await fake.crash();
    await run(conn, 'echo', { text: 'lost' }, 5_000);
    await waitState(conn, 'reconnecting');
    const pending = run(conn, 'echo', { text: 'back' }, 20_000);
    await fake.restart();
    assert.deepStrictEqual(await pending, { content: 'echo: back' });
  });
});

describe('McpConnection over stdio: a crashed child says how it ended', function () {
  it('the reconnect reason has the exit code and the last stderr line', async () => {
    const conn = new McpConnection(fakeStdioConfig(), { name: 'crashy', backoff: { ...fastBackoff, initialMs: 2_000 }, pingIntervalMs: 0 });
    conn.start();
    try {
      await waitState(conn, 'ready');
      const reconnecting = waitState(conn, 'reconnecting');
      const tool = toolSource(conn).listTools().find((t) => t.name === 'crash')!;
      await tool.run({ code: 7 }, { signal: new AbortController().signal, timeoutMs: 5000 });
      const why = await reconnecting;
      assert.match(why!, /the connection closed \(exit code 7\)/);
      assert.match(why!, /fake mcp: crashing on purpose with code 7/);
    } finally {
      await conn.close();
    }
  });
});
