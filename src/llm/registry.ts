/**
 * Providers by name. Each built-in provider file registers itself here; a third-party
 * module adds its own with {@link registerProvider} (directly, or from a Node-RED plugin of
 * type `clawflow-provider`, see docs/PROVIDERS.md). Nothing in the LLM layer switches on a
 * provider name: it asks this registry.
 */
import type { Provider, ProviderFactory, ProviderSettings } from './types';
import { LlmError } from './errors';

/** What a provider tells the editor about itself. */
export interface ProviderMeta {
  /** Shown in the provider dropdown. */
  label?: string;
  /** Base URL the provider uses when none is set. */
  defaultBaseUrl?: string;
  /** Model used when neither the llm node nor the provider config names one. */
  defaultModel?: string;
  /** Whether an API key is needed (Ollama: no). */
  needsKey?: boolean;
  /** Named presets (openai-compatible: kimi, deepseek, ...). */
  presets?: Record<string, { label: string; baseUrl: string; defaultModel?: string; needsKey?: boolean }>;
}

interface Entry {
  factory: ProviderFactory;
  meta: ProviderMeta;
}

const providers = new Map<string, Entry>();

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Register (or replace) a provider under `name`. Replacing lets a module ship a fixed
 * version of a built-in; the last registration wins.
 */
export function registerProvider(name: string, factory: ProviderFactory, meta: ProviderMeta = {}): void {
  if (!NAME.test(name)) throw new Error(`provider name "${name}" must be lower-case letters, digits, . _ - (max 64)`);
  if (typeof factory !== 'function') throw new Error(`provider "${name}": factory must be a function (settings) => Provider`);
  providers.set(name, { factory, meta });
}

/** Remove a provider (a plugin being unloaded, tests). */
export function unregisterProvider(name: string): boolean {
  return providers.delete(name);
}

/** Names and editor metadata of all registered providers. */
export function listProviders(): { name: string; meta: ProviderMeta }[] {
  return [...providers.entries()].map(([name, e]) => ({ name, meta: e.meta })).sort((a, b) => a.name.localeCompare(b.name));
}

export function hasProvider(name: string): boolean {
  return providers.has(name);
}

/** Build a provider instance from settings; a clear error for an unknown name. */
export function createProvider(settings: ProviderSettings): Provider {
  const entry = providers.get(settings.provider);
  if (!entry) {
    const known = [...providers.keys()].sort().join(', ');
    throw new LlmError(
      `unknown LLM provider "${settings.provider}": registered providers are ${known || '(none)'}; install the module that adds it or pick another in the provider config node`,
      { kind: 'config', provider: settings.provider },
    );
  }
  return entry.factory(entry.meta.defaultModel && !settings.defaultModel ? { ...settings, defaultModel: entry.meta.defaultModel } : settings);
}
