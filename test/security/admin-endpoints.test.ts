import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const providerNode = require('../../nodes/llm-provider');
const KEY = 'sk-admin-endpoint-key-7777';

async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await helper.request().post(path).send(body as object);
  return { status: res.status, text: res.text };
}

describe('security: llm provider admin endpoints', function () {
  let fake: OpenAIFake;
  let other: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: KEY, models: ['m-a'] }).start();
    other = await new OpenAIFake({ apiKey: 'sk-other-server-key-0000', models: ['x'] }).start();
    await helper.load(providerNode, [{ id: 'p1', type: 'clawflow-llm-provider', provider: 'openai', baseUrl: fake.url }], { p1: { apiKey: KEY } });
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
    await other.close();
  });

  it('the stored key is only sent to the address it was saved for', async () => {
    const res = await post('/clawflow-llm-provider/models', { id: 'p1', provider: 'openai', baseUrl: other.url, apiKey: '__PWRD__' });
    const body = JSON.parse(res.text);
    assert.equal(body.ok, false);
    assert.match(body.error, /keyOtherUrl|type the API key again/);
    for (const r of other.requests) assert.ok(!JSON.stringify(r.headers).includes(KEY), 'the key went to another server');
    assert.ok(!res.text.includes(KEY));
    // The saved address still works with the stored key.
    const ok = JSON.parse((await post('/clawflow-llm-provider/models', { id: 'p1', provider: 'openai', baseUrl: fake.url, apiKey: '__PWRD__' })).text);
    assert.deepEqual(ok, { ok: true, models: ['m-a'] });
  });

  it('a body of the wrong shape gets a clear error, not a crash', async () => {
    for (const body of [{ baseUrl: { x: 1 } }, { model: 42, provider: ['openai'] }, { id: { $ne: 1 } }, { timeout: 'abc', provider: 'no-such-provider' }]) {
      const res = await post('/clawflow-llm-provider/models', body);
      assert.equal(res.status, 200, JSON.stringify(body));
      const parsed = JSON.parse(res.text);
      assert.equal(parsed.ok, false);
      assert.equal(typeof parsed.error, 'string');
    }
    // The runtime is still serving.
    const list = await helper.request().get('/clawflow-llm-provider/providers');
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(KEY));
  });
});
