import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';
import { syncPluginProviders } from '../../src/llm/plugins';
import { createProvider, hasProvider, unregisterProvider } from '../../src/llm/registry';

const providerNode = require('../../nodes/llm-provider');
const KEY = 'sk-provider-node-key-5555';

/** POST to the editor's admin API (the helper serves it through supertest). */
async function post(path: string, body: object): Promise<{ status: number; text: string }> {
  const res = await helper.request().post(path).send(body);
  return { status: res.status, text: res.text };
}

describe('clawflow-llm-provider node', function () {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: KEY, models: ['m-b', 'm-a'] }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
  });

  it('lists models with the stored key and never echoes it; a wrong key gives a redacted error', async () => {
    await helper.load(providerNode, [{ id: 'p1', type: 'clawflow-llm-provider', provider: 'openai', baseUrl: fake.url }], { p1: { apiKey: KEY } });
    const ok = await post('/clawflow-llm-provider/models', { id: 'p1', provider: 'openai', baseUrl: fake.url, apiKey: '' });
    assert.deepEqual(JSON.parse(ok.text), { ok: true, models: ['m-a', 'm-b'] });
    assert.equal(fake.requests[0].headers.authorization, `Bearer ${KEY}`);
    const bad = await post('/clawflow-llm-provider/models', { provider: 'openai', baseUrl: fake.url, apiKey: 'sk-typed-wrong-key-123' });
    const res = JSON.parse(bad.text);
    assert.equal(res.ok, false);
    assert.match(res.error, /401/);
    assert.ok(!bad.text.includes('sk-typed-wrong') && !bad.text.includes(KEY));
  });

  it('exposes settings and a provider instance to llm nodes', async () => {
    await helper.load(providerNode, [{ id: 'p1', type: 'clawflow-llm-provider', name: 'main', provider: 'openai-compatible', preset: 'kimi', baseUrl: fake.url, model: 'kimi-x', timeout: 30 }], { p1: { apiKey: KEY } });
    const n = helper.getNode('p1');
    const s = n.settings();
    assert.equal(s.timeoutMs, 30_000);
    assert.equal(s.defaultModel, 'kimi-x');
    assert.equal(s.label, 'main');
    assert.equal(n.provider().name, 'openai-compatible');
    assert.equal(n.provider(), n.provider(), 'one client per config node');
  });

  it('third-party providers arrive through clawflow-provider plugins', () => {
    const warnings: string[] = [];
    const list = [
              { id: 'x', type: 'clawflow-provider', provider: 'echo-test', factory: () => ({ name: 'echo-test', listModels: async () => [{ id: 'e' }], complete: async () => ({ text: 'e', toolCalls: [], stopReason: 'end', usage: { inputTokens: 0, outputTokens: 0 } }) }) },
      { id: 'broken', type: 'clawflow-provider', provider: 'nofactory' },
    ];
    const plugins = { getByType: (type: string) => (type === 'clawflow-provider' ? list : []) };
    try {
      assert.deepEqual(syncPluginProviders(plugins, (w) => warnings.push(w)), ['echo-test']);
      assert.ok(hasProvider('echo-test'));
      assert.equal(createProvider({ provider: 'echo-test' }).name, 'echo-test');
      assert.match(warnings[0], /broken.*factory/);
      assert.deepEqual(syncPluginProviders(plugins), [], 'registered once');
    } finally {
      unregisterProvider('echo-test');
    }
  });

  it('an unknown provider name gives a clear error', () => {
    assert.throws(() => createProvider({ provider: 'nope' }), /unknown LLM provider "nope".*openai/);
  });
});
