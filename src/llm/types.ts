/**
 * The provider contract of the LLM layer: a provider-neutral conversation, one streamed
 * completion request, and what comes back. Each provider file maps these to its own wire
 * format; the tool loop (tool-loop.ts) only ever speaks this shape, so it never asks which
 * provider it talks to.
 */
import type { ToolDefinition } from './tool-types';

/** One tool call the model asked for, as the provider reported it. */
export interface ModelToolCall {
  /** The provider's call id (synthesised when the provider gives none, e.g. Ollama). */
  id: string;
  name: string;
  /**
   * The arguments as the provider delivered them: a JSON string (OpenAI, Anthropic after
   * assembling input_json_delta pieces) or already an object (Ollama). The tool loop parses
   * and validates; a provider never throws on bad arguments.
   */
  arguments: string | Record<string, unknown>;
}

/** A provider-neutral conversation message. */
export type ConvMessage =
  | { role: 'user'; content: string; name?: string }
  | {
      role: 'assistant';
      content: string;
      toolCalls?: ModelToolCall[];
      /**
       * Reasoning text some providers return beside the answer (Kimi/DeepSeek
       * `reasoning_content`). Kept so providers that require it echoed back in tool loops
       * can send it; others ignore it.
       */
      reasoning?: string;
    }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** One request to a provider: a single model completion, streamed. */
export interface CompletionRequest {
  model: string;
  /** System prompt; providers that want it as a field (Anthropic) take it from here. */
  system?: string;
  messages: ConvMessage[];
  tools: ToolDefinition[];
  temperature?: number;
  maxTokens?: number;
  /** Aborts the HTTP request (turn aborted, redeploy, request timeout). */
  signal: AbortSignal;
  /** Called with each piece of answer text as it arrives. */
  onText(delta: string): void;
  /** Called on every chunk/event received (keeps the idle timeout from firing). */
  onActivity?(): void;
}

/** Normalised stop reasons; `raw` in {@link Completion} keeps the provider's own word. */
export type StopReason = 'end' | 'tool_calls' | 'max_tokens' | 'other';

export interface Completion {
  text: string;
  toolCalls: ModelToolCall[];
  stopReason: StopReason;
  /** The provider's own stop reason (`end_turn`, `stop`, `tool_calls`, ...). */
  rawStopReason?: string;
  usage: Usage;
  reasoning?: string;
}

/** Settings of one provider config node, as the engine needs them. */
export interface ProviderSettings {
  /** Registered provider name (`openai`, `anthropic`, `ollama`, `openai-compatible`, ...). */
  provider: string;
  /** A preset of the provider (e.g. `kimi` for openai-compatible), or empty. */
  preset?: string;
  baseUrl?: string;
  /** Only ever read from Node-RED credentials; never logged or put in errors. */
  apiKey?: string;
  defaultModel?: string;
  /** Per HTTP request, in ms. */
  timeoutMs?: number;
  /** A label for errors and status: the config node's name. Never contains the key. */
  label?: string;
}

/** A model as a provider lists it (for the editor's "list models" button). */
export interface ModelInfo {
  id: string;
  name?: string;
}

/** A provider instance, created by a factory from {@link ProviderSettings}. */
export interface Provider {
  /** Registered name, for errors and msg.llm. */
  readonly name: string;
  /** Model to use when the llm node names none. */
  readonly defaultModel?: string;
  /** Run one completion. Throws an {@link LlmError} (errors.ts) on failure. */
  complete(req: CompletionRequest): Promise<Completion>;
  /** List the models the endpoint offers (also serves as a connection test). */
  listModels(signal: AbortSignal): Promise<ModelInfo[]>;
}

/** Builds a provider from settings. Registered by name in registry.ts. */
export type ProviderFactory = (settings: ProviderSettings) => Provider;
