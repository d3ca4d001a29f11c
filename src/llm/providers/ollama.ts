/**
 * `ollama`: the native /api/chat through the `ollama` client, streamed as NDJSON. Quirks
 * handled: tool arguments arrive as objects (not JSON text) and whole, not in pieces; calls
 * have no id (we number them); tool results name the tool (`tool_name`); a custom fetch
 * carries our abort signal (the client only offers abort() after the response starts) and
 * exposes response headers so a 429's Retry-After is honoured.
 */
import { Ollama } from 'ollama';
import { registerProvider } from '../registry';
import { StreamErrorEvent, streamEndError } from '../errors';
import type { Completion, CompletionRequest, ConvMessage, ModelToolCall, Provider, ProviderSettings } from '../types';

function objectArgs(a: string | Record<string, unknown>): Record<string, unknown> {
  if (typeof a !== 'string') return a;
  try {
    const v = JSON.parse(a);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/**
 * The client turns an `{"error": "..."}` line of the stream into a plain `Error` with the
 * server's text (network failures are TypeErrors, aborts AbortErrors, bad JSON SyntaxErrors).
 * Its own "the stream ended early" is a plain Error too: that one is a dropped connection.
 */
function isErrorLine(err: unknown): boolean {
  return err instanceof Error && Object.getPrototypeOf(err) === Error.prototype && !/did not receive done/i.test(err.message);
}

export function toOllamaMessages(system: string | undefined, messages: ConvMessage[]): any[] {
  const out: any[] = [];
  if (system) out.push({ role: 'system', content: system });
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'assistant') {
      const msg: any = { role: 'assistant', content: m.content };
      if (m.toolCalls?.length) msg.tool_calls = m.toolCalls.map((c) => ({ function: { name: c.name, arguments: objectArgs(c.arguments) } }));
      out.push(msg);
    } else out.push({ role: 'tool', content: m.content, tool_name: m.name });
  }
  return out;
}

function ollamaProvider(settings: ProviderSettings): Provider {
  /** A client whose every request is bound to `signal` and reports its headers. */
  function client(signal: AbortSignal, seen: { headers?: Headers }) {
    const boundFetch = (async (input: any, init: any = {}) => {
      const res = await fetch(input, { ...init, signal });
      seen.headers = res.headers;
      return res;
    }) as typeof fetch;
    return new Ollama({
      host: settings.baseUrl || 'http://127.0.0.1:11434',
      fetch: boundFetch,
      headers: settings.apiKey ? { Authorization: `Bearer ${settings.apiKey}` } : undefined,
    });
  }
  const withHeaders = (err: any, seen: { headers?: Headers }) => {
    if (err && typeof err === 'object' && typeof err.status_code === 'number' && seen.headers) err.headers = seen.headers;
    return err;
  };
  return {
    name: 'ollama',
    defaultModel: settings.defaultModel,
    async listModels(signal) {
      const seen = {};
      try {
        const r = await client(signal, seen).list();
        return r.models.map((m) => ({ id: m.name }));
      } catch (err) {
        throw withHeaders(err, seen);
      }
    },
    async complete(req: CompletionRequest): Promise<Completion> {
      const seen: { headers?: Headers } = {};
      const options: Record<string, number> = {};
      if (req.temperature !== undefined) options.temperature = req.temperature;
      if (req.maxTokens) options.num_predict = req.maxTokens;
      let text = '';
      let reasoning: string | undefined;
      let done: any;
      const calls: ModelToolCall[] = [];
      let streaming = false;
      let chunks = 0;
      try {
        const stream = await client(req.signal, seen).chat({
          model: req.model,
          messages: toOllamaMessages(req.system, req.messages),
          tools: req.tools.length ? req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema as any } })) : undefined,
          options: Object.keys(options).length ? options : undefined,
          stream: true,
        });
        streaming = true;
        for await (const chunk of stream) {
          chunks++;
          req.onActivity?.();
          const m = chunk.message;
          if (m?.thinking) reasoning = (reasoning ?? '') + m.thinking;
          if (m?.content) {
            text += m.content;
            req.onText(m.content);
          }
          for (const tc of m?.tool_calls ?? []) {
            const id = (tc as any).id ?? `call_${calls.length}`;
            calls.push({ id, name: tc.function.name, arguments: tc.function.arguments ?? {} });
          }
          if (chunk.done) done = chunk;
        }
      } catch (err) {
        if (streaming && isErrorLine(err)) throw new StreamErrorEvent((err as Error).message);
        // The client's own "did not receive done": with no chunk at all, maybe not Ollama at all.
        if (streaming && !chunks && err instanceof Error && /did not receive done/i.test(err.message)) throw streamEndError(0, seen.headers?.get('content-type'));
        throw withHeaders(err, seen);
      }
      if (!done) throw streamEndError(chunks, seen.headers?.get('content-type'));
      return {
        text,
        toolCalls: calls,
        stopReason: calls.length ? 'tool_calls' : done.done_reason === 'length' ? 'max_tokens' : 'end',
        rawStopReason: done.done_reason,
        usage: { inputTokens: done.prompt_eval_count ?? 0, outputTokens: done.eval_count ?? 0 },
        reasoning,
      };
    },
  };
}

registerProvider('ollama', ollamaProvider, { label: 'Ollama', defaultBaseUrl: 'http://127.0.0.1:11434', defaultModel: 'llama3.2', needsKey: false });
