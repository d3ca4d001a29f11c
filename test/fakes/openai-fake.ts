/**
 * A loopback OpenAI Chat Completions server: `POST /v1/chat/completions` (SSE when
 * `stream: true`, with tool-call arguments streamed in pieces, usage in the last chunk,
 * `data: [DONE]`), `GET /v1/models`. Reusable by any suite that needs "an LLM" (gateway,
 * channels, benchmarks):
 *
 * ```ts
 * const fake = await new OpenAIFake({ apiKey: 'sk-test' }).start();
 * fake.enqueue({ text: 'hello' }, { toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] });
 * fake.enqueue({ status: 429, retryAfter: 0 }, { reset: 'mid' }, { hang: true });
 * // provider config: baseUrl = fake.url, apiKey 'sk-test'
 * fake.requests / fake.chatRequests() / fake.cancelled / await fake.waitForRequests(2)
 * await fake.close();
 * ```
 * With an empty script it answers `echo: <last user text>` (set `fake.fallback` to change).
 */
import type http from 'http';
import { LlmFake, RecordedRequest, ScriptedReply, splitText, StreamControl } from './llm-fake-base';

export { ScriptedReply } from './llm-fake-base';

export class OpenAIFake extends LlmFake {
  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  protected isChat(path: string): boolean {
    return path.endsWith('/chat/completions');
  }
  protected isModels(path: string): boolean {
    return path.endsWith('/models');
  }
  protected authorised(headers: http.IncomingHttpHeaders, key: string): boolean {
    return headers.authorization === `Bearer ${key}`;
  }
  protected writeModels(res: http.ServerResponse, models: string[]): void {
    json(res, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) });
  }
  protected writeError(res: http.ServerResponse, status: number, message: string, headers: Record<string, string>): void {
    json(res, status, { error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'invalid_request_error', code: null } }, headers);
  }

  protected async writeReply(res: http.ServerResponse, reply: ScriptedReply, req: RecordedRequest, ctl: StreamControl): Promise<void> {
    const model = req.body?.model ?? 'fake-model';
    const pieces = reply.chunks ?? splitText(reply.text ?? '', reply.pieces);
    const calls = (reply.toolCalls ?? []).map((c, i) => ({
      id: c.id ?? `call_${i}_${Math.random().toString(36).slice(2, 8)}`,
      name: c.name,
      args: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
    }));
    const finish = reply.stopReason ?? (calls.length ? 'tool_calls' : 'stop');
    const usage = { prompt_tokens: reply.usage?.input ?? 10, completion_tokens: reply.usage?.output ?? 5, total_tokens: (reply.usage?.input ?? 10) + (reply.usage?.output ?? 5) };
    if (!req.body?.stream) {
      json(res, 200, {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: 0,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: pieces.join('') || null,
              ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })) } : {}),
            },
            finish_reason: finish,
          },
        ],
        usage,
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const chunk = (delta: any, finish_reason: string | null = null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason }] })}\n\n`;
    const events: string[] = [chunk({ role: 'assistant', content: '' })];
    if (reply.reasoning) events.push(chunk({ reasoning_content: reply.reasoning }));
    for (const p of pieces) events.push(chunk({ content: p }));
    calls.forEach((c, index) => {
      events.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
      for (const part of splitText(c.args, 3)) events.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    });
    events.push(chunk({}, finish));
    if (req.body?.stream_options?.include_usage) {
      events.push(`data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model, choices: [], usage })}\n\n`);
    }
    events.push('data: [DONE]\n\n');
    for (let i = 0; i < events.length; i++) {
      await ctl.pace(i);
      if (i === 1 && reply.malformed) {
        res.write('data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "oops\n\n');
        res.end();
        return;
      }
      if (i === 1 && reply.streamError) {
        const { type = 'server_error', message, code = null } = reply.streamError;
        res.end(`data: ${JSON.stringify({ error: { message, type, code } })}\n\n`);
        return;
      }
      res.write(events[i]);
    }
    res.end();
  }
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
