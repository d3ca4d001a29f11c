import { strict as assert } from 'assert';
import http from 'http';
import type { AddressInfo } from 'net';
import { choice } from './helpers';

/** An Anthropic-compatible server that puts a tool call's whole input into content_block_start (no input_json_delta). */
function startServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = (type: string, o: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`);
      ev('message_start', { message: { id: 'm', type: 'message', role: 'assistant', model: 'x', content: [], usage: { input_tokens: 1, output_tokens: 1 } } });
      ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } } });
      ev('content_block_stop', { index: 0 });
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } });
      ev('message_stop', {});
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) })),
  );
}

describe('llm provider anthropic: tool input in content_block_start', () => {
  it('a tool_use block whose input comes whole in content_block_start (no deltas) keeps that input', async () => {
    const srv = await startServer();
    try {
      const c = choice('anthropic', srv.url);
      const r = await c.provider.complete({ model: 'x', messages: [{ role: 'user', content: 'hi' }], tools: [], signal: new AbortController().signal, onText: () => undefined });
      assert.equal(r.toolCalls.length, 1);
      assert.deepEqual(JSON.parse(r.toolCalls[0].arguments as string), { city: 'Oslo' });
    } finally {
      await srv.close();
    }
  });
});
