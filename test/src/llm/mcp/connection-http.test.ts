import assert from 'assert';
import { McpConnection, toolSource } from '../../../../src/llm/mcp';
import { startFakeMcpHttp, type FakeMcpHttp } from '../../../fakes/mcp-http-server';
import { waitState, trackMcpTimers, fastBackoff } from './helpers';

const TOKEN = 'http-secret-token-123';

const run = (conn: McpConnection, name: string, args: Record<string, unknown> = {}, timeoutMs = 5000) => {
  const tool = toolSource(conn).listTools().find((t) => t.name === name);
  assert.ok(tool, `tool ${name} offered`);
  return tool.run(args, { signal: new AbortController().signal, timeoutMs });
};

describe('McpConnection over Streamable HTTP (loopback SDK server)', function () {
  let fake: FakeMcpHttp;
  let conn: McpConnection;

  before(async () => {
    fake = await startFakeMcpHttp({ token: TOKEN });
  });
  after(async () => fake.close());
  afterEach(async () => conn?.close());

  const connect = async (headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }, pingIntervalMs = 0) => {
    conn = new McpConnection({ transport: 'http', url: fake.url, headers }, { name: 'remote', backoff: fastBackoff, pingIntervalMs, secrets: [TOKEN] });
    conn.start();
  };

  it('connects with the secret header, lists tools and runs them', async () => {
    await connect();
    await waitState(conn, 'ready');
    assert.strictEqual(fake.lastHeaders.authorization, `Bearer ${TOKEN}`);
    assert.ok(conn.tools.some((t) => t.name === 'echo'));
    assert.deepStrictEqual(await run(conn, 'echo', { text: 'over http' }), { content: 'echo: over http' });
    assert.deepStrictEqual(await run(conn, 'add', { a: 20, b: 22 }), { content: '42\n{"sum":42}', structured: { sum: 42 } });
    assert.deepStrictEqual(await run(conn, 'fail', {}), { content: 'failed on purpose: no reason', isError: true });
    const t = await run(conn, 'hang', {}, 200);
    assert.strictEqual(t.isError, true);
    assert.match(t.content, /did not answer within 200 ms/);
  });

  it('fails without retrying when the server refuses the credentials, and hides the secret', async () => {
    await connect({ Authorization: `Bearer wrong-${TOKEN}` });
    const err = await waitState(conn, 'failed');
    assert.match(err!, /refused the credentials/);
    assert.match(err!, /HTTP 401/);
    assert.ok(!err!.includes(TOKEN));
  });

  it('notices a dead server on the next call, reconnects with a new session when it is back', async () => {
    await connect();
    await waitState(conn, 'ready');
    const [firstSession] = fake.sessions();
    await fake.crash();
    const reconnecting = waitState(conn, 'reconnecting');
    const r = await run(conn, 'echo', { text: 'lost' });
    assert.strictEqual(r.isError, true);
    assert.match(r.content, /failed/);
    await reconnecting;
    await fake.restart();
    await waitState(conn, 'ready');
    assert.notStrictEqual(fake.sessions()[0], firstSession);
    assert.deepStrictEqual(await run(conn, 'echo', { text: 'found' }), { content: 'echo: found' });
  });

  it('notices a dead server by its health ping when idle', async () => {
    await connect(undefined, 100);
    await waitState(conn, 'ready');
    await fake.crash();
    const err = await waitState(conn, 'reconnecting');
    assert.match(err!, /stopped answering|closed|fetch failed/);
    await fake.restart();
    await waitState(conn, 'ready');
  });

  it('close ends the session on the server (DELETE) and leaves no timer', async () => {
    // Its own server, closed before counting: the server's keep-alive sockets have timers too.
    const own = await startFakeMcpHttp();
    const timers = trackMcpTimers();
    conn = new McpConnection({ transport: 'http', url: own.url }, { name: 'own', backoff: fastBackoff, pingIntervalMs: 60_000 });
    conn.start();
    await waitState(conn, 'ready');
    const [sid] = own.sessions();
    await conn.close();
    assert.ok(own.terminated.includes(sid), 'session terminated');
    assert.deepStrictEqual(own.sessions(), []);
    await own.close();
    const pending = await timers.pending();
    timers.stop();
    assert.deepStrictEqual(pending, []);
  });
});
