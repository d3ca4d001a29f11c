/**
 * A loopback Ollama server: `POST /api/chat` streamed as NDJSON (one JSON object per line,
 * tool calls whole with object arguments, a final `done: true` line with done_reason and
 * token counts), `GET /api/tags`, errors as `{"error": "..."}`. Same script API as
 * openai-fake (llm-fake-base.ts); `fake.url` is the client's host.
 */
import type http from 'http';
import { LlmFake, RecordedRequest, ScriptedReply, splitText, StreamControl } from './llm-fake-base';

export class OllamaFake extends LlmFake {
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  protected isChat(path: string): boolean {
    return path === '/api/chat';
  }
  protected isModels(path: string): boolean {
    return path === '/api/tags';
  }
  protected authorised(headers: http.IncomingHttpHeaders, key: string): boolean {
    return headers.authorization === `Bearer ${key}`;
  }
  protected writeModels(res: http.ServerResponse, models: string[]): void {
    send(res, 200, { models: models.map((name) => ({ name, model: name, modified_at: '2025-01-01T00:00:00Z', size: 1, digest: 'x', details: {} })) });
  }
  protected writeError(res: http.ServerResponse, status: number, message: string, headers: Record<string, string>): void {
    send(res, status, { error: message }, headers);
  }
  protected async writeReply(res: http.ServerResponse, reply: ScriptedReply, req: RecordedRequest, ctl: StreamControl): Promise<void> {
    const model = req.body?.model ?? 'fake-model';
    const at = '2025-01-01T00:00:00Z';
    const line = (message: object, extra: object = { done: false }) => JSON.stringify({ model, created_at: at, message: { role: 'assistant', content: '', ...message }, ...extra }) + '\n';
    const lines: string[] = [];
    if (reply.reasoning) lines.push(line({ thinking: reply.reasoning }));
    for (const p of reply.chunks ?? splitText(reply.text ?? '', reply.pieces)) lines.push(line({ content: p }));
    const calls = (reply.toolCalls ?? []).map((c) => ({ function: { name: c.name, arguments: typeof c.arguments === 'string' ? safeParse(c.arguments) : c.arguments } }));
    if (calls.length) lines.push(line({ tool_calls: calls }));
    lines.push(line({}, { done: true, done_reason: reply.stopReason ?? 'stop', total_duration: 1, prompt_eval_count: reply.usage?.input ?? 10, eval_count: reply.usage?.output ?? 5 }));
    if (!req.body?.stream) {
      return send(res, 200, JSON.parse(lines[lines.length - 1]));
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (let i = 0; i < lines.length; i++) {
      await ctl.pace(i);
      if (i === 1 && reply.malformed) {
        res.end('{"model": "x", "message": {\n');
        return;
      }
      if (i === 1 && reply.streamError) {
        res.end(JSON.stringify({ error: reply.streamError.message }) + '\n');
        return;
      }
      res.write(lines[i]);
    }
    res.end();
  }
}

/** Ollama sends arguments as objects; a scripted string is parsed (or sent as a string if broken). */
function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
