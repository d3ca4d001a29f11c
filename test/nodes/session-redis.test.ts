import assert from 'node:assert/strict';
import crypto from 'crypto';
import { Redis } from 'ioredis';
import { helper, waitForStatus } from '../support/node-red';
import { findGateway } from '../../src/gateway';
import { chatOf } from '../fakes/gateway-worker';
import { dropPrefix, freePort } from '../fakes/gateway-redis-cluster';
import { canConnect, needService } from '../support/services';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const sessionsNode = require('../../nodes/sessions');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sessionNode = require('../../nodes/session');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const sessionEndNode = require('../../nodes/session-end');
const catalogs = ['sessions', 'session', 'session-end'].map((b) => require(`../../locales/en-US/${b}.json`));

function translate(key: string, params: Record<string, unknown> = {}): string {
  for (const c of catalogs) {
    const v = key.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), c);
    if (typeof v === 'string') return v.replace(/__(\w+)__/g, (_m, n) => (n in params ? String(params[n]) : `__${n}__`));
  }
  return key;
}
const nodes = [sessionsNode, sessionNode, sessionEndNode].map((mod) => (RED: any) => {
  RED._ = translate;
  return mod(RED);
});

const URL = 'redis://127.0.0.1:6379';

function flow(cfg: Record<string, unknown>) {
  return [
    { id: 'cfg', type: 'clawflow-sessions', store: 'redis', redisUrl: URL, concurrency: 10, maxWaiting: 1000, maxWaitingPerSession: 20, leaseSeconds: 300, mode: 'followup', keyScheme: 'per-channel-peer', groupScope: 'per-group', threads: true, historyMessages: 40, historyTokens: 8000, resetWords: 'new reset', ...cfg },
    { id: 's1', type: 'clawflow-session', sessions: 'cfg', wires: [['turns'], ['busy']] },
    { id: 'e1', type: 'clawflow-session-end', sessions: 'cfg', wires: [['out']] },
    { id: 'turns', type: 'helper' },
    { id: 'busy', type: 'helper' },
    { id: 'out', type: 'helper' },
  ];
}

function next(id: string, ms = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing arrived at ${id}`)), ms);
    helper.getNode(id).once('input', (m: any) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

async function gatewayClients(r: Redis, prefix: string): Promise<number> {
  const list = (await r.client('LIST')) as string;
  return list.split('\n').filter((l) => l.includes(`name=clawflow-gateway-${prefix}`)).length;
}

describe('sessions config node on Redis', function () {
  let prefix: string;
  let admin: Redis;

  before(async function () {
    needService(this, 'sessions config node on Redis', await canConnect(6379), 'no Redis on 127.0.0.1:6379 (start redis-server)');
  });
  beforeEach(() => {
    prefix = `cftest:${crypto.randomUUID().slice(0, 8)}:`;
    admin = new Redis(URL);
  });
  afterEach(async () => {
    await helper.unload();
    await dropPrefix(URL, prefix);
    admin.disconnect();
  });

  it('runs a turn with history in Redis, shares pairing approvals, and closes its connections on redeploy', async () => {
    await helper.load(nodes, flow({ redisPrefix: prefix }), { cfg: { redisPassword: '' } });
    const turn = next('turns');
    helper.getNode('s1').receive({ payload: 'hello', chat: chatOf('ann', { text: 'hello' }) });
    const m = await turn;
    assert.equal(m.session.history.at(-1).content, 'hello');
    const out = next('out');
    helper.getNode('e1').receive({ ...m, payload: 'hi ann' });
    await out;
    const gw = findGateway('cfg')!;
    assert.equal(gw.store.kind, 'redis');
    assert.deepEqual((await gw.history(m.session.key)).map((h) => h.content), ['hello', 'hi ann']);
    assert.ok((await admin.llen(`${prefix}h:${m.session.key}`)) === 2, 'the history is in Redis under the prefix');

    const kv = (helper.getNode('cfg') as any).kvStore('pairing');
    await kv.set('telegram:bot1:ann', { approved: true });
    assert.equal(await admin.hget(`${prefix}kv:pairing`, 'telegram:bot1:ann'), '{"approved":true}');

    assert.equal(await gatewayClients(admin, prefix), 2, 'one command and one Pub/Sub connection');
    await helper.unload();
    for (let i = 0; i < 50 && (await gatewayClients(admin, prefix)) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await gatewayClients(admin, prefix), 0, 'close released both connections');
  });

  it('Redis unreachable: a new message gets the "unavailable" reply on output 2 and the status says so', async () => {
    const port = await freePort();
    await helper.load(nodes, flow({ redisPrefix: prefix, redisUrl: `redis://127.0.0.1:${port}` }), { cfg: { redisPassword: 'pw-secret' } });
    const s1 = helper.getNode('s1');
    const status = waitForStatus(s1, (s) => s.fill === 'red');
    const busy = next('busy');
    s1.receive({ payload: 'anyone?', chat: chatOf('bob', { text: 'anyone?' }) });
    const m = await busy;
    assert.equal(m.reason, 'unavailable');
    assert.equal(m.payload, catalogs[0]['clawflow-sessions'].reply.unavailable);
    const st = await status;
    assert.match(st.text, /redis unreachable/);
    assert.ok(!JSON.stringify(m).includes('pw-secret') && !st.text.includes('pw-secret'));
  });

  it('refuses a URL that is not redis:// with a configuration error', async () => {
    await helper.load(nodes, flow({ redisPrefix: prefix, redisUrl: 'http://127.0.0.1:6379' }));
    const cfg = helper.getNode('cfg') as any;
    assert.match(cfg.gatewayError.message, /redis:\/\//);
  });
});
