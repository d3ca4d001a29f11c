/**
 * The OpenAI Chat Completions wire format, shared by the `openai` provider and every
 * `openai-compatible` server (Kimi/Moonshot, DeepSeek, OpenRouter, vLLM, LM Studio). Uses
 * the official `openai` SDK (v6) with its own retries off: retries, timeouts and failover
 * are the tool loop's, so they behave the same for every provider.
 *
 * Quirks handled here: tool-call arguments arrive in pieces across chunks (assembled by
 * the call's `index`); reasoning models send `reasoning_content` that some servers (Kimi)
 * need echoed on assistant tool-call messages; some models pin the temperature.
 */
import OpenAI from 'openai';
import type { Completion, CompletionRequest, ConvMessage, ModelInfo, ModelToolCall, Provider, ProviderSettings, StopReason } from '../types';
import { streamEndError } from '../errors';

/** Per-server differences of the Chat Completions dialect. */
export interface ChatCompletionsDialect {
  /** `max_completion_tokens` (OpenAI, required by reasoning models) or `max_tokens` (most others). */
  maxTokensField: 'max_completion_tokens' | 'max_tokens';
  /** Send `reasoning_content` back on assistant messages that carry tool calls. */
  echoReasoning: boolean;
  /** A temperature the server insists on for `model`, or undefined to use the node's. */
  pinnedTemperature?(model: string): number | undefined;
  /** Ask for usage in the last stream chunk (`stream_options.include_usage`). */
  streamUsage: boolean;
}

const STOP: Record<string, StopReason> = { stop: 'end', tool_calls: 'tool_calls', function_call: 'tool_calls', length: 'max_tokens' };

/** Provider-neutral messages to Chat Completions messages. */
export function toChatMessages(system: string | undefined, messages: ConvMessage[], dialect: ChatCompletionsDialect): any[] {
  const out: any[] = [];
  if (system) out.push({ role: 'system', content: system });
  for (const m of messages) {
    if (m.role === 'user') out.push(m.name ? { role: 'user', content: m.content, name: safeName(m.name) } : { role: 'user', content: m.content });
    else if (m.role === 'assistant') {
      const msg: any = { role: 'assistant', content: m.content || (m.toolCalls?.length ? null : '') };
      if (m.toolCalls?.length) {
        msg.tool_calls = m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
        }));
        if (dialect.echoReasoning && m.reasoning !== undefined) msg.reasoning_content = m.reasoning;
      }
      out.push(msg);
    } else out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
  }
  return out;
}

/** OpenAI's `name` field allows only a restricted charset. */
function safeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
}

/** A Chat Completions provider over the openai SDK. */
export function chatCompletionsProvider(name: string, settings: ProviderSettings, dialect: ChatCompletionsDialect, defaultBaseUrl?: string): Provider {
  const client = new OpenAI({
    apiKey: settings.apiKey || 'none', // local servers (vLLM, LM Studio) take any key
    baseURL: settings.baseUrl || defaultBaseUrl || undefined,
    maxRetries: 0,
    logLevel: 'off', // the SDK would print stream bodies to the console; errors reach us anyway
    timeout: 24 * 3600_000, // our idle timeout (tool loop) governs; the SDK's would cut long streams
  });

  return {
    name,
    defaultModel: settings.defaultModel,
    async listModels(signal: AbortSignal): Promise<ModelInfo[]> {
      const page = await client.models.list({ signal });
      return page.data.map((m) => ({ id: m.id }));
    },
    async complete(req: CompletionRequest): Promise<Completion> {
      const body: any = {
        model: req.model,
        messages: toChatMessages(req.system, req.messages, dialect),
        stream: true,
      };
      if (dialect.streamUsage) body.stream_options = { include_usage: true };
      const temperature = dialect.pinnedTemperature?.(req.model) ?? req.temperature;
      if (temperature !== undefined) body.temperature = temperature;
      if (req.maxTokens) body[dialect.maxTokensField] = req.maxTokens;
      if (req.tools.length) {
        body.tools = req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema } }));
      }
      const { data, response } = await client.chat.completions.create(body, { signal: req.signal }).withResponse();
      const stream = data as unknown as AsyncIterable<any>;
      let events = 0;
      let text = '';
      let reasoning: string | undefined;
      let finish: string | undefined;
      const usage = { inputTokens: 0, outputTokens: 0 };
      const calls: { id?: string; name: string; args: string }[] = [];
      for await (const chunk of stream) {
        events++;
        req.onActivity?.();
        if (chunk.usage) {
          usage.inputTokens = chunk.usage.prompt_tokens ?? 0;
          usage.outputTokens = chunk.usage.completion_tokens ?? 0;
        }
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const delta = choice.delta ?? {};
        if (typeof delta.reasoning_content === 'string') reasoning = (reasoning ?? '') + delta.reasoning_content;
        if (typeof delta.content === 'string' && delta.content) {
          text += delta.content;
          req.onText(delta.content);
        }
        for (const tc of delta.tool_calls ?? []) {
          // Pieces of one call share `index`; servers that send whole calls may omit it.
          const i = typeof tc.index === 'number' ? tc.index : calls.length;
          const slot = (calls[i] ??= { name: '', args: '' });
          if (tc.id) slot.id = tc.id;
          if (tc.function?.name) slot.name += tc.function.name;
          if (typeof tc.function?.arguments === 'string') slot.args += tc.function.arguments;
          else if (tc.function?.arguments && typeof tc.function.arguments === 'object') slot.args = JSON.stringify(tc.function.arguments);
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      if (!finish) throw streamEndError(events, response.headers.get('content-type'));
      const toolCalls: ModelToolCall[] = calls
        .filter((c) => c && c.name)
        .map((c, i) => ({ id: c.id || `call_${i}`, name: c.name, arguments: c.args }));
      return {
        text,
        toolCalls,
        stopReason: toolCalls.length ? 'tool_calls' : STOP[finish] ?? 'other',
        rawStopReason: finish,
        usage,
        reasoning,
      };
    },
  };
}
