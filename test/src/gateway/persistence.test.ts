import assert from 'assert';
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';
import { FileSessionStore, Gateway, MemorySessionStore, transcriptFileName } from '../../../src/gateway';
import { GatewaySlowLlm } from '../../fakes/gateway-slow-llm';
import { chatOf, nextEvent, startWorker } from '../../fakes/gateway-worker';

describe('gateway persistence', () => {
  let dir: string;
  let fake: GatewaySlowLlm;
  const open: Gateway[] = [];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clawflow-gw-'));
    fake = await new GatewaySlowLlm().start();
  });
  afterEach(async () => {
    for (const g of open.splice(0)) await g.close();
    await fake.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  function gateway(store = new FileSessionStore(dir), opts = {}): Gateway {
    const g = new Gateway({ store, ...opts });
    open.push(g);
    return g;
  }

  it('resumes pending turns after a close and restart on the same directory, history intact', async () => {
    const g1 = gateway(undefined, { concurrency: 1 });
    await g1.start();
    const w1 = startWorker(g1, fake.url);
    const a = await g1.submit(chatOf('a', { text: 'a1' }));
    await w1.waitEnded(1);
    fake.hold = true;
    await g1.submit(chatOf('a', { text: 'a2' }));
    await fake.waitForRequests(2); // a2 is running, its flow never finishes before the redeploy
    await g1.submit(chatOf('a', { text: 'a3' }));
    const b = await g1.submit(chatOf('b', { text: 'b1' }));
    assert.deepStrictEqual(g1.stats().waiting, 2);
    await g1.close();
    fake.hold = false;
    fake.release();
    await w1.waitEnded(2);
    assert.strictEqual(w1.records[1].outcome, 'stale', 'the old flow cannot end a turn after close');

    const g2 = gateway(new FileSessionStore(dir), { concurrency: 1 });
    const w2 = startWorker(g2, fake.url);
    const opened = await g2.start();
    assert.deepStrictEqual({ waiting: opened.waiting, requeued: opened.requeued }, { waiting: 3, requeued: 1 });
    await w2.waitEnded(3);
    assert.deepStrictEqual(w2.records.map((r) => r.turn.text), ['a2', 'b1', 'a3']);
    assert.deepStrictEqual((await g2.history(a.key)).map((h) => h.content), ['a1', 'echo: a1', 'a2', 'echo: a2', 'a3', 'echo: a3']);
    assert.deepStrictEqual((await g2.history(b.key)).map((h) => h.content), ['b1', 'echo: b1']);
    const s = await g2.session(a.key);
    assert.strictEqual(s?.state, 'idle');
    assert.strictEqual(s?.info.channel, 'telegram');
  });

  it('loses no accepted message when the process is killed with SIGKILL', async function () {
    this.timeout(60000);
    const acked: string[] = [];
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '../../fakes/gateway-crash-child.ts'), dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          if (l.startsWith('ACK ')) acked.push(l.slice(4));
          if (l === 'END') reject(new Error('the child finished before it was killed'));
        }
        if (acked.length >= 60 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code, sig) => sig !== 'SIGKILL' && reject(new Error(`child exited ${code}: ${stderr}`)));
    });
    await new Promise((r) => child.once('exit', r));

    const g = gateway(new FileSessionStore(dir), { maxWaitingPerSession: 1000 });
    const w = startWorker(g, fake.url);
    const opened = await g.start();
    assert.ok(opened.waiting > 0, 'something was still waiting at the kill');
    await new Promise<void>((resolve) => {
      const check = () => g.stats().active === 0 && g.stats().waiting === 0 && resolve();
      g.on('change', check);
      check();
    });
    const all: string[] = [];
    for (let s = 0; s < 4; s++) {
      const users = (await g.history(`telegram:bot1:dm:s${s}`)).filter((h) => h.role === 'user').map((h) => h.content);
      // arrival order kept inside each session, no message twice
      const nums = users.map((u) => Number(u.slice(1)));
      assert.deepStrictEqual(nums, [...nums].sort((x, y) => x - y), `order of s${s}`);
      assert.strictEqual(new Set(users).size, users.length, `duplicates in s${s}`);
      all.push(...users);
    }
    const missing = acked.filter((t) => !all.includes(t));
    assert.deepStrictEqual(missing, [], 'acknowledged messages lost');
    assert.ok(w.records.length > 0);
  });

  it('cuts off a torn last line and appends cleanly after it', async () => {
    const warnings: string[] = [];
    const g1 = gateway(new FileSessionStore(dir));
    await g1.start();
    const r = await g1.submit(chatOf('a', { text: 'kept' }));
    await g1.close();
    const file = path.join(dir, 'sessions', transcriptFileName(r.key));
    await fs.appendFile(file, '{"t":"enq","msg":{"id":"half');
    const g2 = gateway(new FileSessionStore(dir, { onWarn: (w) => warnings.push(w) }));
    startWorker(g2, fake.url);
    const opened = await g2.start();
    assert.strictEqual(opened.waiting, 1);
    assert.strictEqual(warnings.length, 1);
    assert.match(warnings[0], /incomplete last line/);
    await g2.submit(chatOf('a', { text: 'after' }));
    await g2.close();
    const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
    assert.ok(lines.every((l) => JSON.parse(l)), 'every line parses');
  });

  it('keeps the full history on disk while memory holds only the newest entries', async () => {
    const g = gateway(new FileSessionStore(dir, { keepInMemory: 4 }), { window: { maxMessages: 3 } });
    const w = startWorker(g, fake.url);
    await g.start();
    for (let i = 0; i < 5; i++) await g.submit(chatOf('a', { text: `q${i}` }));
    await w.waitEnded(5);
    assert.strictEqual((await g.history('telegram:bot1:dm:a')).length, 10);
    // window of 3: the new question plus the last exchange, opening on a user entry
    assert.deepStrictEqual(w.records[4].turn.history.map((h) => h.content), ['q3', 'echo: q3', 'q4']);
  });

  it('a reset survives a restart', async () => {
    const g1 = gateway();
    const w = startWorker(g1, fake.url);
    await g1.start();
    await g1.submit(chatOf('a', { text: 'old' }));
    await w.waitEnded(1);
    await g1.submit(chatOf('a', { text: '/new' }));
    await g1.close();
    const g2 = gateway(new FileSessionStore(dir));
    await g2.start();
    assert.deepStrictEqual(await g2.history('telegram:bot1:dm:a'), []);
  });

  it('memory store: a reused store requeues the running turn like a restart', async () => {
    const store = new MemorySessionStore();
    const g1 = gateway(store);
    await g1.start();
    const turn = nextEvent<{ text: string }>(g1, 'turn');
    await g1.submit(chatOf('a', { text: 'x' }));
    assert.strictEqual((await turn).text, 'x'); // started, never ended
    await g1.close();
    const g2 = gateway(store);
    const w = startWorker(g2, fake.url);
    const opened = await g2.start();
    assert.strictEqual(opened.requeued, 1);
    await w.waitEnded(1);
    assert.deepStrictEqual((await g2.history('telegram:bot1:dm:a')).map((h) => h.content), ['x', 'echo: x']);
  });

  it('key-value namespaces live in the same directory', async () => {
    const s1 = new FileSessionStore(dir);
    await s1.kv('pairing').set('telegram:1', { approved: true });
    const s2 = new FileSessionStore(dir);
    assert.deepStrictEqual(await s2.kv('pairing').get('telegram:1'), { approved: true });
    assert.ok((await fs.readdir(path.join(dir, 'kv'))).includes('pairing.json'));
  });
});
