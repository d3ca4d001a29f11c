import { strict as assert } from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { runTurn } from '../../../src/llm/tool-loop';
import { LlmError } from '../../../src/llm/errors';
import { choice, FAST_RETRY } from './helpers';

/** A base URL that answers 200 with a web page (a proxy's login page, a wrong address). */
function htmlServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html><body>Please log in</body></html>');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) })),
  );
}

describe('llm providers: a 200 answer that is not an event stream', () => {
  for (const provider of ['openai', 'anthropic', 'ollama']) {
    it(`${provider}: is reported as the wrong protocol with the content type, not as a dropped connection`, async () => {
      const srv = await htmlServer();
      try {
        await assert.rejects(
          runTurn({ providers: [choice(provider, srv.url)], retry: FAST_RETRY, signal: new AbortController().signal, messages: [{ role: 'user', content: 'x' }] }),
          (e: LlmError) => {
            assert.equal(e.kind, 'stream', e.message);
            assert.match(e.message, /text\/html/);
            return true;
          },
        );
      } finally {
        await srv.close();
      }
    });
  }
});
