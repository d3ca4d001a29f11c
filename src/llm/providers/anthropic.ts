/**
 * `anthropic`: the native Messages API through @anthropic-ai/sdk, streamed. Quirks handled:
 * the system prompt is a top-level field, not a message; `max_tokens` is required; tool
 * arguments stream as `input_json_delta` pieces per content block; tool results go back
 * as `tool_result` blocks inside one user message.
 */
import Anthropic from '@anthropic-ai/sdk';
import { registerProvider } from '../registry';
import { streamEndError } from '../errors';
import type { Completion, CompletionRequest, ConvMessage, ModelToolCall, Provider, ProviderSettings, StopReason } from '../types';

const DEFAULT_MAX_TOKENS = 4096;
const STOP: Record<string, StopReason> = { end_turn: 'end', stop_sequence: 'end', tool_use: 'tool_calls', max_tokens: 'max_tokens' };

function objectArgs(a: string | Record<string, unknown>): Record<string, unknown> {
  if (typeof a !== 'string') return a;
  try {
    const v = JSON.parse(a);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {}; // the model sent bad JSON; it already got an error result for it
  }
}

/** Provider-neutral messages to Messages API messages (tool results merged per turn). */
export function toAnthropicMessages(messages: ConvMessage[]): any[] {
  const out: any[] = [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'assistant') {
      const content: any[] = [];
      if (m.content) content.push({ type: 'text', text: m.content });
      for (const c of m.toolCalls ?? []) content.push({ type: 'tool_use', id: c.id, name: c.name, input: objectArgs(c.arguments) });
      out.push({ role: 'assistant', content: content.length ? content : '' });
    } else {
      const block = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content, ...(m.isError ? { is_error: true } : {}) };
      const last = out[out.length - 1];
      if (last && last.role === 'user' && Array.isArray(last.content) && last.content[0]?.type === 'tool_result') last.content.push(block);
      else out.push({ role: 'user', content: [block] });
    }
  }
  return out;
}

function anthropicProvider(settings: ProviderSettings): Provider {
  const client = new Anthropic({
    apiKey: settings.apiKey || 'none',
    baseURL: settings.baseUrl || undefined,
    maxRetries: 0,
    timeout: 24 * 3600_000,
    logLevel: 'off',
  });
  return {
    name: 'anthropic',
    defaultModel: settings.defaultModel,
    async listModels(signal) {
      const page = await client.models.list({}, { signal });
      return page.data.map((m: any) => ({ id: m.id, name: m.display_name }));
    },
    async complete(req: CompletionRequest): Promise<Completion> {
      const body: any = {
        model: req.model,
        max_tokens: req.maxTokens || DEFAULT_MAX_TOKENS,
        messages: toAnthropicMessages(req.messages),
        stream: true,
      };
      if (req.system) body.system = req.system;
      if (req.temperature !== undefined) body.temperature = req.temperature;
      if (req.tools.length) body.tools = req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema }));
      const { data, response } = await client.messages.create(body, { signal: req.signal }).withResponse();
      const stream = data as unknown as AsyncIterable<any>;
      let events = 0;
      let text = '';
      let stop: string | undefined;
      let stopped = false;
      const usage = { inputTokens: 0, outputTokens: 0 };
      // `start`: the input given in content_block_start; Anthropic sends `{}` there and the input as
      // input_json_delta pieces, compatible servers may send it whole there (the SDK keeps it too).
      const blocks = new Map<number, { id: string; name: string; json: string; start: string }>();
      for await (const ev of stream) {
        events++;
        req.onActivity?.();
        switch (ev.type) {
          case 'message_start':
            usage.inputTokens = ev.message?.usage?.input_tokens ?? 0;
            usage.outputTokens = ev.message?.usage?.output_tokens ?? 0;
            break;
          case 'content_block_start':
            if (ev.content_block?.type === 'tool_use') {
              const input = ev.content_block.input;
              const start = input && typeof input === 'object' && Object.keys(input).length ? JSON.stringify(input) : '';
              blocks.set(ev.index, { id: ev.content_block.id, name: ev.content_block.name, json: '', start });
            }
            else if (ev.content_block?.type === 'text' && ev.content_block.text) {
              text += ev.content_block.text;
              req.onText(ev.content_block.text);
            }
            break;
          case 'content_block_delta':
            if (ev.delta?.type === 'text_delta') {
              text += ev.delta.text;
              req.onText(ev.delta.text);
            } else if (ev.delta?.type === 'input_json_delta') {
              const b = blocks.get(ev.index);
              if (b) b.json += ev.delta.partial_json ?? '';
            }
            break;
          case 'message_delta':
            if (ev.delta?.stop_reason) stop = ev.delta.stop_reason;
            if (ev.usage?.output_tokens !== undefined) usage.outputTokens = ev.usage.output_tokens;
            if (ev.usage?.input_tokens) usage.inputTokens = ev.usage.input_tokens;
            break;
          case 'message_stop':
            stopped = true;
            break;
        }
      }
      if (!stopped) throw streamEndError(events, response.headers.get('content-type'));
      const toolCalls: ModelToolCall[] = [...blocks.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => ({ id: b.id, name: b.name, arguments: b.json || b.start }));
      return { text, toolCalls, stopReason: toolCalls.length ? 'tool_calls' : STOP[stop ?? ''] ?? 'other', rawStopReason: stop, usage };
    },
  };
}

registerProvider('anthropic', anthropicProvider, { label: 'Anthropic', defaultBaseUrl: 'https://api.anthropic.com', defaultModel: 'claude-3-5-haiku-latest', needsKey: true });
