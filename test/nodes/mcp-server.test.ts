import assert from 'assert';
import os from 'os';
import { helper } from '../support/node-red';
import { fakeStdioConfig, pidAlive, eventually } from '../fakes/mcp-launch';
import { startFakeMcpHttp, type FakeMcpHttp } from '../fakes/mcp-http-server';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const mcpServerModule = require('../../nodes/mcp-server');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const enUS = require('../../locales/en-US/mcp-server.json');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const zhCN = require('../../locales/zh-CN/mcp-server.json');

/** The helper's RED._ returns keys; give the node the real en-US texts (`__name__` interpolation). */
function translate(key: string, params: Record<string, unknown> = {}): string {
  const value = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), enUS);
  if (typeof value !== 'string') return key;
  return value.replace(/__(\w+)__/g, (_m, name) => (name in params ? String(params[name]) : `__${name}__`));
}
function mcpServerNode(RED: any) {
  RED._ = translate;
  return mcpServerModule(RED);
}

function keysOf(o: any, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keysOf(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

/** A stand-in user node: records the statuses the config node broadcasts to it. */
function statusUser() {
  const seen: any[] = [];
  return { seen, status: (s: any) => seen.push(s), last: () => seen[seen.length - 1] };
}

function stdioNode(id: string, extra: Record<string, unknown> = {}) {
  const cfg = fakeStdioConfig();
  return { id, type: 'clawflow-mcp-server', name: 'fake', transport: 'stdio', command: cfg.command, args: JSON.stringify(cfg.args), cwd: cfg.cwd, env: [], ...extra };
}

describe('clawflow-mcp-server node', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('has the same message keys in en-US and zh-CN', () => {
    assert.deepStrictEqual(keysOf(zhCN).sort(), keysOf(enUS).sort());
  });

  it('connects on deploy over stdio, lists tools on the admin endpoint, status says connected', async () => {
    await helper.load(mcpServerNode, [stdioNode('m1')]);
    const n = helper.getNode('m1');
    const user = statusUser();
    n.register(user);
    await eventually(() => /connected, 8 tools/.test(user.last()?.text ?? ''), 10_000, 'connected status');
    assert.deepStrictEqual({ fill: user.last().fill, shape: user.last().shape }, { fill: 'green', shape: 'dot' });
    const res = await helper.request().get('/clawflow/mcp/m1/tools').expect(200);
    assert.strictEqual(res.body.state, 'ready');
    assert.deepStrictEqual(res.body.tools.map((t: any) => t.name).sort(), ['add', 'crash', 'echo', 'fail', 'grow', 'hang', 'secret_tool', 'whoami']);
    const echo = res.body.tools.find((t: any) => t.name === 'echo');
    assert.strictEqual(echo.description, 'Echo the text back');
    assert.deepStrictEqual(echo.inputSchema.required, ['text']);
    assert.strictEqual(res.body.tools.find((t: any) => t.name === 'secret_tool').mcpName, 'secret.tool');
    n.deregister(user);
  });

  it('answers 404 for an id that is not a deployed MCP server', async () => {
    await helper.load(mcpServerNode, []);
    const res = await helper.request().get('/clawflow/mcp/nope/tools').expect(404);
    assert.match(res.body.error, /deploy/i);
  });

  it('passes a secret env value from credentials to the child and hides it everywhere else', async () => {
    const SECRET = 'sk-env-secret-9876';
    const flow = [stdioNode('m2', { cwd: os.tmpdir(), env: [{ name: 'FAKE_MCP_SECRET', secret: true, slot: 3 }, { name: 'PLAIN', value: 'p' }] })];
    await helper.load(mcpServerNode, flow, { m2: { secret3: SECRET } });
    const n = helper.getNode('m2');
    await eventually(() => n.connection.state === 'ready', 10_000, 'ready');
    const tool = n.toolSource().listTools().find((t: any) => t.name === 'whoami');
    const r = await tool.run({}, { signal: new AbortController().signal, timeoutMs: 5000 });
    assert.strictEqual(JSON.parse(r.content).secret, SECRET);
    assert.ok(!JSON.stringify(flow).includes(SECRET), 'the flow holds no secret');
    const res = await helper.request().get('/clawflow/mcp/m2/tools').expect(200);
    assert.ok(!JSON.stringify(res.body).includes(SECRET));
  });

  it('sends a secret header over Streamable HTTP; a wrong one shows an error status without the secret', async () => {
    const TOKEN = 'http-node-token-5555';
    const fake: FakeMcpHttp = await startFakeMcpHttp({ token: TOKEN });
    try {
      const ok = { id: 'h1', type: 'clawflow-mcp-server', transport: 'http', url: fake.url, headers: [{ name: 'Authorization', secret: true, slot: 0 }] };
      const bad = { id: 'h2', type: 'clawflow-mcp-server', transport: 'http', url: fake.url, headers: [{ name: 'Authorization', secret: true, slot: 5 }] };
      await helper.load(mcpServerNode, [ok, bad], { h1: { secret0: `Bearer ${TOKEN}` }, h2: { secret5: `Bearer wrong-${TOKEN}` } });
      const good = statusUser();
      const failing = statusUser();
      helper.getNode('h1').register(good);
      helper.getNode('h2').register(failing);
      await eventually(() => /connected, 8 tools/.test(good.last()?.text ?? ''), 10_000, 'connected');
      await eventually(() => failing.last()?.fill === 'red', 10_000, 'error status');
      assert.match(failing.last().text, /^error: .*(refused|401)/);
      for (const s of failing.seen) assert.ok(!JSON.stringify(s).includes(TOKEN));
      const tool = helper.getNode('h1').toolSource().listTools().find((t: any) => t.name === 'add');
      const r = await tool.run({ a: 1, b: 2 }, { signal: new AbortController().signal, timeoutMs: 5000 });
      assert.deepStrictEqual(r, { content: '3\n{"sum":3}', structured: { sum: 3 } });
    } finally {
      await helper.unload();
      await fake.close();
    }
  });

  it('an unnamed HTTP server is labelled by its address without the user info or query (where keys sit)', async () => {
    const url = 'http://someone:pw-secret-4242@127.0.0.1:9/mcp?api_key=qs-secret-4343';
    await helper.load(mcpServerNode, [{ id: 'h3', type: 'clawflow-mcp-server', transport: 'http', url, headers: [] }]);
    const n = helper.getNode('h3');
    const name: string = n.connection.name;
    assert.match(name, /127\.0\.0\.1:9\/mcp/);
    assert.ok(!name.includes('pw-secret-4242') && !name.includes('qs-secret-4343'), name);
    // fetch refuses the URL and quotes it whole: the status must not show the key either.
    const user = statusUser();
    n.register(user);
    await eventually(() => user.seen.some((x) => x.fill !== 'yellow' || /reconnecting/.test(x.text)), 10_000, 'a problem status');
    await eventually(() => !!n.connection.error, 10_000, 'an error');
    const shown = JSON.stringify(user.seen) + String(n.connection.error);
    assert.ok(!shown.includes('pw-secret-4242') && !shown.includes('qs-secret-4343'), shown);
  });

  it('shows reconnecting after a crash and connected again after', async () => {
    await helper.load(mcpServerNode, [stdioNode('m3')]);
    const n = helper.getNode('m3');
    const user = statusUser();
    n.register(user);
    await eventually(() => n.connection.state === 'ready', 10_000, 'ready');
    const pid = n.connection.pid;
    const crash = n.toolSource().listTools().find((t: any) => t.name === 'crash');
    const r = await crash.run({}, { signal: new AbortController().signal, timeoutMs: 5000 });
    assert.strictEqual(r.isError, true);
    await eventually(() => user.seen.some((s) => /^reconnecting/.test(s.text)), 5000, 'reconnecting status');
    await eventually(() => n.connection.state === 'ready' && n.connection.pid !== pid, 15_000, 'reconnected');
    assert.match(user.last().text, /connected, 8 tools/);
    assert.strictEqual(pidAlive(pid), false);
  });

  it('shows an invalid config as an error status', async () => {
    await helper.load(mcpServerNode, [{ id: 'm4', type: 'clawflow-mcp-server', transport: 'stdio', command: '' }]);
    const user = statusUser();
    helper.getNode('m4').register(user);
    assert.strictEqual(user.last().fill, 'red');
    assert.match(user.last().text, /needs a command/);
  });

  it('stops the child process on redeploy', async () => {
    await helper.load(mcpServerNode, [stdioNode('m5')]);
    const n = helper.getNode('m5');
    await eventually(() => n.connection.state === 'ready', 10_000, 'ready');
    const pid = n.connection.pid;
    assert.ok(pidAlive(pid));
    await helper.unload();
    assert.strictEqual(n.connection.state, 'stopped');
    await eventually(() => !pidAlive(pid), 3000, 'child gone');
  });
});
