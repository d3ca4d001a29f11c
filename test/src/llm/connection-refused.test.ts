import { strict as assert } from 'assert';
import net from 'net';
import { runTurn } from '../../../src/llm/tool-loop';
import { LlmError } from '../../../src/llm/errors';
import { choice, FAST_RETRY } from './helpers';

/** A loopback port with nothing listening (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('llm providers: nothing listening at the base URL', () => {
  for (const provider of ['openai', 'anthropic', 'ollama']) {
    it(`${provider}: a refused connection is a network error that names the base URL as the thing to check`, async () => {
      const port = await closedPort();
      await assert.rejects(
        runTurn({ providers: [choice(provider, `http://127.0.0.1:${port}`)], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }),
        (e: LlmError) => {
          assert.equal(e.kind, 'network', e.message);
          assert.match(e.message, /base URL/);
          return true;
        },
      );
    });
  }

  it('openai: a connection the client refuses to open (fetch\'s blocked port 9) is a network error, not "not speaking the protocol"', async () => {
    await assert.rejects(
      runTurn({ providers: [choice('openai', 'http://127.0.0.1:9/v1')], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }),
      (e: LlmError) => {
        assert.equal(e.kind, 'network', e.message);
        return true;
      },
    );
  });
});
