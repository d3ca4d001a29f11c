import { strict as assert } from 'assert';
import { helper } from '../support/node-red';
import { OpenAIFake } from '../fakes/openai-fake';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const providerNode = require('../../nodes/llm-provider');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const llmNode = require('../../nodes/llm');

// A key with no well-known prefix: only the "redact the configured key" rule can catch it.
const KEY = 'Zq8PLAINsecretMATERIAL4711';

function flow(url: string) {
  return [
    { id: 'p1', type: 'clawflow-llm-provider', name: 'fake', provider: 'openai', baseUrl: url, model: 'fake-model', timeout: 10 },
    { id: 'llm', type: 'clawflow-llm', provider: 'p1', system: 'x', stream: true, apologyText: 'Sorry!', wires: [['reply'], ['err']] },
    { id: 'reply', type: 'helper' },
    { id: 'err', type: 'helper' },
  ];
}

describe('security: an API key echoed by a provider never leaks', function () {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await new OpenAIFake({ apiKey: KEY }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
  });

  for (const status of [400, 401, 500]) {
    it(`${status} with the key in the body: not in msg, done(err), status, warnings or logs`, async () => {
      fake.fallback = () => ({ status, errorMessage: `bad request for key ${KEY} (also Bearer ${KEY})` });
      await helper.load([providerNode, llmNode], flow(fake.url), { p1: { apiKey: KEY } });
      const llm = helper.getNode('llm');
      const seen: unknown[] = [];
      for (const ev of ['call:error', 'call:warn', 'call:status', 'call:log']) llm.on(ev, (call: any) => seen.push(call.args));
      const errored = new Promise<any>((resolve) => llm.on('call:error', resolve));
      const apology = new Promise<any>((resolve) => helper.getNode('err').on('input', resolve));
      llm.receive({ payload: 'hello', chat: { chatId: 'c' } });
      const [call, m] = await Promise.all([errored, apology]);
      const err = call.args[0];
      const all = JSON.stringify({ m, seen, msg: err?.message, err, logs: helper.log().args });
      assert.ok(!all.includes(KEY), all.slice(0, 2000));
      assert.match(String(err?.message ?? err), /fake/);
    });
  }

  it('the list-models endpoint redacts the key a server echoes', async () => {
    fake.fallback = () => ({ status: 400, errorMessage: `nope ${KEY}` });
    await helper.load([providerNode, llmNode], flow(fake.url), { p1: { apiKey: KEY } });
    // /models is a GET on the fake: make it fail by a wrong key typed in the dialog, echoed.
    const typed = 'Typed9Wrong9Key9Value';
    const res = await helper.request().post('/clawflow-llm-provider/models').send({ provider: 'openai', baseUrl: fake.url, apiKey: typed });
    const body = JSON.parse(res.text);
    assert.equal(body.ok, false);
    assert.ok(!res.text.includes(typed) && !res.text.includes(KEY));
  });
});
