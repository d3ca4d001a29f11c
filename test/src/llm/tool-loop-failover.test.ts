import { strict as assert } from 'assert';
import { OpenAIFake } from '../../fakes/openai-fake';
import { runTurn } from '../../../src/llm/tool-loop';
import { StreamCutError } from '../../../src/llm/errors';
import type { Provider } from '../../../src/llm/types';
import { choice, FAST_RETRY, openAIFakePerTest } from './helpers';

describe('llm engine: failover partials', () => {
  const fake = openAIFakePerTest();

  it('a fallback provider streams from an empty reply, not after the failed provider\'s partial text', async () => {
    const second = await new OpenAIFake().start();
    try {
      // The primary streams a first piece, then its connection drops, on every attempt.
      const cut: Provider = {
        name: 'cut',
        async listModels() {
          return [];
        },
        async complete(req) {
          req.onText('stale words ');
          throw new StreamCutError();
        },
      };
      second.enqueue({ chunks: ['fresh ', 'answer'] });
      const texts: string[] = [];
      const r = await runTurn({
        providers: [{ provider: cut, model: 'm' }, choice('openai', second.url)],
        retry: FAST_RETRY,
        signal: new AbortController().signal,
        messages: [{ role: 'user', content: 'x' }],
        hooks: { onText: (_d, t) => texts.push(t) },
      });
      assert.equal(r.text, 'fresh answer');
      assert.equal(r.failovers, 1);
      assert.equal(texts[texts.length - 1], 'fresh answer', `partials: ${JSON.stringify(texts)}`);
      assert.ok(!texts.some((t) => t.includes('stale') && t.includes('fresh')), `partials mix the providers: ${JSON.stringify(texts)}`);
    } finally {
      await second.close();
    }
  });
});
