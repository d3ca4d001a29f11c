/**
 * A loopback Anthropic Messages API: `POST /v1/messages` streamed as SSE events
 * (message_start, content_block_start/delta/stop with text_delta and input_json_delta,
 * message_delta, message_stop), `GET /v1/models`, errors as `{type:'error', error:{...}}`
 * (529 overloaded_error included). Same script API as openai-fake (llm-fake-base.ts);
 * `fake.url` is the SDK's baseURL (no /v1).
 */
import type http from 'http';
import { LlmFake, RecordedRequest, ScriptedReply, splitText, StreamControl } from './llm-fake-base';

const ERROR_TYPE: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error' };

export class AnthropicFake extends LlmFake {
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  protected isChat(path: string): boolean {
    return path === '/v1/messages';
  }
  protected isModels(path: string): boolean {
    return path === '/v1/models';
  }
  protected authorised(headers: http.IncomingHttpHeaders, key: string): boolean {
    // The SDK sends `x-api-key` or (newer versions) `Authorization: Bearer`; the API takes both.
    return headers['x-api-key'] === key || headers.authorization === `Bearer ${key}`;
  }
  protected writeModels(res: http.ServerResponse, models: string[]): void {
    send(res, 200, { data: models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' })), has_more: false, first_id: models[0] ?? null, last_id: models[models.length - 1] ?? null });
  }
  protected writeError(res: http.ServerResponse, status: number, message: string, headers: Record<string, string>): void {
    send(res, status, { type: 'error', error: { type: ERROR_TYPE[status] ?? 'api_error', message } }, headers);
  }
  protected async writeReply(res: http.ServerResponse, reply: ScriptedReply, req: RecordedRequest, ctl: StreamControl): Promise<void> {
    const model = req.body?.model ?? 'fake-model';
    const pieces = reply.chunks ?? splitText(reply.text ?? '', reply.pieces);
    const calls = (reply.toolCalls ?? []).map((c, i) => ({ id: c.id ?? `toolu_${i}`, name: c.name, json: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) }));
    const stop = reply.stopReason ?? (calls.length ? 'tool_use' : 'end_turn');
    const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const events: string[] = [
      ev('message_start', { message: { id: 'msg_fake', type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: reply.usage?.input ?? 10, output_tokens: 1 } } }),
    ];
    let index = 0;
    if (pieces.length) {
      events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      events.push(ev('ping', {}));
      for (const p of pieces) events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } }));
      events.push(ev('content_block_stop', { index }));
      index++;
    }
    for (const c of calls) {
      events.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} } }));
      for (const part of splitText(c.json, 3)) events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: part } }));
      events.push(ev('content_block_stop', { index }));
      index++;
    }
    events.push(ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: reply.usage?.output ?? 5 } }));
    events.push(ev('message_stop', {}));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < events.length; i++) {
      await ctl.pace(i);
      if (i === 1 && reply.malformed) {
        res.end('event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n');
        return;
      }
      if (i === 1 && reply.streamError) {
        const { type = 'api_error', message } = reply.streamError;
        res.end(ev('error', { error: { type, message } }));
        return;
      }
      res.write(events[i]);
    }
    res.end();
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
