/**
 * `openai-compatible`: any server speaking OpenAI Chat Completions, with presets for the
 * common ones. A preset is data (base URL, default model, dialect quirks), not a branch in
 * code: add one by adding an entry to PRESETS.
 *
 * Kimi (Moonshot): K2 thinking models need their `reasoning_content` echoed back on the
 * assistant tool-call messages of a tool loop, and pin the temperature (1.0 for thinking
 * models, 0.6 otherwise on kimi-k2.5), rejecting other values.
 */
import { registerProvider } from '../registry';
import { chatCompletionsProvider, ChatCompletionsDialect } from './chat-completions';

interface Preset {
  label: string;
  baseUrl: string;
  defaultModel?: string;
  needsKey: boolean;
  dialect?: Partial<ChatCompletionsDialect>;
}

const GENERIC: ChatCompletionsDialect = { maxTokensField: 'max_tokens', echoReasoning: false, streamUsage: true };

/** Kimi pins the temperature of some models; anything else is an HTTP 400. */
export function kimiTemperature(model: string): number | undefined {
  if (/thinking/i.test(model)) return 1.0;
  if (/^kimi-k2\.5/i.test(model)) return 0.6;
  return undefined;
}

export const PRESETS: Record<string, Preset> = {
  kimi: { label: 'Kimi (Moonshot)', baseUrl: 'https://api.moonshot.ai/v1', defaultModel: 'kimi-k2-0905-preview', needsKey: true, dialect: { echoReasoning: true, pinnedTemperature: kimiTemperature } },
  deepseek: { label: 'DeepSeek', baseUrl: 'https://api.deepseek.com/v1', defaultModel: 'deepseek-chat', needsKey: true, dialect: { echoReasoning: true } },
  openrouter: { label: 'OpenRouter', baseUrl: 'https://openrouter.ai/api/v1', needsKey: true },
  vllm: { label: 'vLLM', baseUrl: 'http://127.0.0.1:8000/v1', needsKey: false },
  lmstudio: { label: 'LM Studio', baseUrl: 'http://127.0.0.1:1234/v1', needsKey: false },
};

registerProvider(
  'openai-compatible',
  (settings) => {
    const preset = settings.preset ? PRESETS[settings.preset] : undefined;
    const dialect = { ...GENERIC, ...(preset?.dialect ?? {}) };
    return chatCompletionsProvider('openai-compatible', { ...settings, defaultModel: settings.defaultModel ?? preset?.defaultModel }, dialect, preset?.baseUrl);
  },
  {
    label: 'OpenAI-compatible',
    needsKey: false,
    presets: Object.fromEntries(Object.entries(PRESETS).map(([k, p]) => [k, { label: p.label, baseUrl: p.baseUrl, defaultModel: p.defaultModel, needsKey: p.needsKey }])),
  },
);
