/**
 * `openai`: OpenAI's own API (Chat Completions, streamed). Registers itself on import.
 */
import { registerProvider } from '../registry';
import { chatCompletionsProvider } from './chat-completions';

registerProvider(
  'openai',
  (settings) =>
    chatCompletionsProvider('openai', settings, { maxTokensField: 'max_completion_tokens', echoReasoning: false, streamUsage: true }, 'https://api.openai.com/v1'),
  { label: 'OpenAI', defaultBaseUrl: 'https://api.openai.com/v1', defaultModel: 'gpt-4o-mini', needsKey: true },
);
