/**
 * The built-in providers. Importing this module registers each one (one file per
 * provider); adding a provider means adding a file and a line here, or calling
 * registerProvider() from another module (see src/llm/plugins.ts).
 */
import './openai';
import './openai-compatible';
import './anthropic';
import './ollama';
