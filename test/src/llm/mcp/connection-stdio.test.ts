import assert from 'assert';
import os from 'os';
import { McpConnection, toolSource } from '../../../../src/llm/mcp';
import { fakeStdioConfig, pidAlive, eventually } from '../../../fakes/mcp-launch';
import { waitState, liveHandles, trackMcpTimers, fastBackoff } from './helpers';

const run = (conn: McpConnection, name: string, args: Record<string, unknown> = {}, timeoutMs = 5000, signal?: AbortSignal) => {
  const tool = toolSource(conn).listTools().find((t) => t.name === name);
  assert.ok(tool, `tool ${name} offered`);
  return tool.run(args, { signal: signal ?? new AbortController().signal, timeoutMs });
};

describe('McpConnection over stdio (loopback SDK server)', function () {
  let conn: McpConnection;

  before(async function () {
    conn = new McpConnection(fakeStdioConfig({ FAKE_MCP_SECRET: 'env-secret-value' }, os.tmpdir()), {
      name: 'fake',
      backoff: fastBackoff,
      pingIntervalMs: 0,
      secrets: ['env-secret-value'],
    });
    conn.start();
    await waitState(conn, 'ready');
  });
  after(async () => conn.close());

  it('lists the tools with model-safe names and schemas', () => {
    const tools = toolSource(conn).listTools();
    assert.deepStrictEqual(tools.map((t) => t.name).sort(), ['add', 'crash', 'echo', 'fail', 'grow', 'hang', 'secret_tool', 'whoami']);
    const echo = tools.find((t) => t.name === 'echo')!;
    assert.strictEqual(echo.source, 'mcp:fake');
    assert.strictEqual(echo.description, 'Echo the text back');
    assert.deepStrictEqual((echo.inputSchema as any).required, ['text']);
    assert.strictEqual(conn.tools.find((t) => t.name === 'secret_tool')!.mcpName, 'secret.tool');
  });

  it('passes env and cwd to the child', async () => {
    const r = await run(conn, 'whoami');
    const info = JSON.parse(r.content);
    assert.strictEqual(info.secret, 'env-secret-value');
    assert.strictEqual(info.cwd, os.tmpdir());
    assert.strictEqual(info.pid, conn.pid);
  });

  it('returns text, structured content and renamed tools', async () => {
    assert.deepStrictEqual(await run(conn, 'echo', { text: 'hi' }), { content: 'echo: hi' });
    assert.deepStrictEqual(await run(conn, 'add', { a: 2, b: 3 }), { content: '5\n{"sum":5}', structured: { sum: 5 } });
    assert.deepStrictEqual(await run(conn, 'secret_tool'), { content: 'dotted name works' });
  });

  it('returns an MCP error result and bad arguments as isError', async () => {
    const r = await run(conn, 'fail', { why: 'test' });
    assert.deepStrictEqual(r, { content: 'failed on purpose: test', isError: true });
    const bad = await run(conn, 'echo', { text: 42 });
    assert.strictEqual(bad.isError, true);
    assert.match(bad.content, /Invalid arguments/);
  });

  it('turns a timeout and a cancel into error results, and keeps working after', async () => {
    const t = await run(conn, 'hang', {}, 300);
    assert.strictEqual(t.isError, true);
    assert.match(t.content, /did not answer within 300 ms/);
    const ac = new AbortController();
    const p = run(conn, 'hang', {}, 5000, ac.signal);
    setImmediate(() => ac.abort());
    const c = await p;
    assert.strictEqual(c.isError, true);
    assert.match(c.content, /cancelled/);
    assert.deepStrictEqual(await run(conn, 'echo', { text: 'still here' }), { content: 'echo: still here' });
  });

  it('emits a call record for auditing', async () => {
    const seen: any[] = [];
    const on = (r: any) => seen.push(r);
    conn.on('call', on);
    await run(conn, 'add', { a: 1, b: 1 });
    conn.off('call', on);
    assert.strictEqual(seen.length, 1);
    assert.deepStrictEqual({ ...seen[0], ms: 0 }, { server: 'fake', tool: 'add', mcpName: 'add', args: { a: 1, b: 1 }, result: { content: '2\n{"sum":2}', structured: { sum: 2 } }, ms: 0 });
  });

  it('refreshes the tool list when the server says it changed', async () => {
    const changed = new Promise<any[]>((resolve) => conn.once('tools', resolve));
    assert.deepStrictEqual(await run(conn, 'grow'), { content: 'grew' });
    const tools = await changed;
    assert.ok(tools.some((t) => t.name === 'grown'));
    assert.deepStrictEqual(await run(conn, 'grown'), { content: 'grown' });
  });

  it('reconnects after the server crashes; the call in flight gets an error result', async () => {
    const oldPid = conn.pid!;
    const reconnecting = waitState(conn, 'reconnecting');
    const r = await run(conn, 'crash');
    assert.strictEqual(r.isError, true);
    assert.match(r.content, /connection closed/);
    await reconnecting;
    await waitState(conn, 'ready');
    assert.notStrictEqual(conn.pid, oldPid);
    assert.strictEqual(pidAlive(oldPid), false);
    assert.deepStrictEqual(await run(conn, 'echo', { text: 'back' }), { content: 'echo: back' });
  });

  it('a call made while reconnecting waits for the new connection', async () => {
    const crashed = run(conn, 'crash');
    await waitState(conn, 'reconnecting');
    assert.deepStrictEqual(await run(conn, 'echo', { text: 'waited' }, 10_000), { content: 'echo: waited' });
    await crashed;
  });
});

describe('McpConnection over stdio: start failures and close', function () {
  it('keeps retrying a server that dies at start, with its stderr and no secret in the error', async () => {
    const conn = new McpConnection(fakeStdioConfig({ FAKE_MCP_EXIT_AT_START: '1', FAKE_MCP_SECRET: 'start' }), {
      name: 'dies',
      backoff: fastBackoff,
      secrets: ['refusing'],
    });
    conn.start();
    try {
      const err = await waitState(conn, 'reconnecting');
      assert.match(err!, /Connection closed/i);
      await eventually(() => /\*\*\* to start/.test(conn.error ?? ''), 5000, 'stderr in the error');
      assert.doesNotMatch(conn.error!, /refusing/);
    } finally {
      await conn.close();
    }
    assert.strictEqual(conn.state, 'stopped');
  });

  it('says which command was not found', async () => {
    const conn = new McpConnection({ transport: 'stdio', command: 'clawflow-no-such-mcp-server-binary' }, { name: 'nf', backoff: fastBackoff });
    conn.start();
    const err = await waitState(conn, 'reconnecting');
    await conn.close();
    assert.match(err!, /command "clawflow-no-such-mcp-server-binary" was not found/);
  });

  it('fails at once, without retries, on an invalid config', async () => {
    const conn = new McpConnection({ transport: 'stdio', command: '' }, { name: 'bad' });
    conn.start();
    assert.strictEqual(conn.state, 'failed');
    assert.match(conn.error!, /needs a command/);
    const r = await conn.callTool('echo', {}, { timeoutMs: 100 });
    assert.strictEqual(r.isError, true);
    assert.match(r.content, /needs a command/);
    await conn.close();
  });

  it('close kills the child process and leaves no timer or process handle', async () => {
    const before = await liveHandles();
    const timers = trackMcpTimers();
    const conn = new McpConnection(fakeStdioConfig(), { name: 'closing', backoff: fastBackoff, pingIntervalMs: 60_000 });
    conn.start();
    await waitState(conn, 'ready');
    const pid = conn.pid!;
    assert.ok(pidAlive(pid));
    await conn.close();
    assert.strictEqual(conn.state, 'stopped');
    assert.strictEqual(conn.pid, null);
    await eventually(() => !pidAlive(pid), 3000, 'child gone');
    await eventually(() => process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap').length === before.processes, 3000, 'process handle released');
    assert.deepStrictEqual(await liveHandles(), before);
    const pending = await timers.pending();
    timers.stop();
    assert.deepStrictEqual(pending, []);
    const r = await conn.callTool('echo', { text: 'x' }, { timeoutMs: 100 });
    assert.deepStrictEqual(r, { content: 'MCP tool "echo" on server "closing" could not run: the server connection is stopped', isError: true });
  });

  it('close during a reconnect wait clears the retry timer', async () => {
    const before = await liveHandles();
    const timers = trackMcpTimers();
    const conn = new McpConnection({ transport: 'stdio', command: 'clawflow-no-such-mcp-server-binary' }, { name: 'nf', backoff: { initialMs: 60_000 } });
    conn.start();
    await waitState(conn, 'reconnecting');
    assert.strictEqual((await liveHandles()).timers, before.timers + 1);
    const waiting = await timers.pending();
    assert.strictEqual(waiting.length, 1);
    assert.match(waiting[0], /scheduleRetry/);
    await conn.close();
    const pending = await timers.pending();
    timers.stop();
    assert.deepStrictEqual(pending, []);
    assert.deepStrictEqual(await liveHandles(), before);
  });
});
