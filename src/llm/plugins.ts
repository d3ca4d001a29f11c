/**
 * The Node-RED plugin route for third-party providers. A module declares a plugin of type
 * `clawflow-provider` in its package.json ("node-red": { "plugins": {...} }) and registers
 * it with
 *
 * ```js
 * module.exports = (RED) => RED.plugins.registerPlugin('my-mistral', {
 *   type: 'clawflow-provider',
 *   provider: 'mistral',              // the name users pick in the provider config node
 *   factory: (settings) => provider,  // returns a Provider (see src/llm/types.ts)
 *   meta: { label: 'Mistral', defaultBaseUrl: 'https://api.mistral.ai/v1', needsKey: true },
 * });
 * ```
 * The llm nodes call {@link syncPluginProviders} when they start, so the plugin needs no
 * import of this package (and works even when several copies of it are installed).
 */
import { hasProvider, registerProvider, ProviderMeta } from './registry';
import type { ProviderFactory } from './types';

/** The plugin type third-party provider modules register. */
export const PROVIDER_PLUGIN_TYPE = 'clawflow-provider';

/** The part of `RED.plugins` this needs. */
export interface PluginsApi {
  getByType(type: string): unknown[];
}

export interface ProviderPlugin {
  type: typeof PROVIDER_PLUGIN_TYPE;
  provider: string;
  factory: ProviderFactory;
  meta?: ProviderMeta;
}

/**
 * Register every `clawflow-provider` plugin's provider (once each). Bad plugin definitions
 * are reported through `warn` and skipped, never thrown: one broken module must not stop
 * the flows. Returns the names registered by this call.
 */
export function syncPluginProviders(plugins: PluginsApi | undefined, warn: (text: string) => void = () => undefined): string[] {
  if (!plugins || typeof plugins.getByType !== 'function') return [];
  const added: string[] = [];
  let list: unknown[] = [];
  try {
    list = plugins.getByType(PROVIDER_PLUGIN_TYPE) ?? [];
  } catch (err) {
    warn(`could not list ${PROVIDER_PLUGIN_TYPE} plugins: ${(err as Error).message}`);
    return [];
  }
  for (const p of list as Partial<ProviderPlugin & { id: string }>[]) {
    if (!p || typeof p.provider !== 'string' || typeof p.factory !== 'function') {
      warn(`${PROVIDER_PLUGIN_TYPE} plugin ${p?.id ?? '?'} needs "provider" (a name) and "factory" (a function): skipped`);
      continue;
    }
    if (registered.get(p.provider) === p.factory && hasProvider(p.provider)) continue;
    try {
      registerProvider(p.provider, p.factory, p.meta ?? {});
      registered.set(p.provider, p.factory);
      added.push(p.provider);
    } catch (err) {
      warn(`${PROVIDER_PLUGIN_TYPE} plugin ${p.id ?? p.provider}: ${(err as Error).message}`);
    }
  }
  return added;
}

const registered = new Map<string, ProviderFactory>();
