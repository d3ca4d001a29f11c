/**
 * `clawflow-llm-provider`: the config node of one LLM endpoint (provider, base URL, API key
 * as a credential, default model, timeout). It owns the provider client; llm nodes ask it
 * for `provider()`. Also serves the editor's provider list and "list models" button.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import '../src/llm/providers';
import { createProvider, listProviders } from '../src/llm/registry';
import { syncPluginProviders } from '../src/llm/plugins';
import { redact } from '../src/llm/errors';
import type { Provider, ProviderSettings } from '../src/llm/types';

interface ProviderDef extends NodeDef {
  provider: string;
  preset?: string;
  baseUrl?: string;
  model?: string;
  /** Seconds without data before a request times out. */
  timeout?: string | number;
}

interface Creds {
  apiKey?: string;
}

/** What llm nodes use from a provider config node (nodes/llm.ts declares the same shape). */
interface ProviderConfigNode extends Node {
  settings(): ProviderSettings;
  provider(): Provider;
}

export = function (RED: NodeAPI) {
  const warn = (t: string) => RED.log.warn(`[clawflow-llm-provider] ${t}`);

  function settingsOf(def: Partial<ProviderDef>, apiKey: string | undefined): ProviderSettings {
    const timeout = Number(def.timeout);
    return {
      provider: String(def.provider || 'openai'),
      preset: def.preset || undefined,
      baseUrl: (def.baseUrl || '').trim() || undefined,
      apiKey: apiKey || undefined,
      defaultModel: (def.model || '').trim() || undefined,
      timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : 120_000,
      label: def.name || undefined,
    };
  }

  function LlmProviderNode(this: ProviderConfigNode & { credentials: Creds }, config: ProviderDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let instance: Provider | undefined;
    node.settings = () => settingsOf(config, node.credentials?.apiKey);
    node.provider = () => {
      if (!instance) {
        syncPluginProviders((RED as any).plugins, warn);
        instance = createProvider(node.settings());
      }
      return instance;
    };
    node.on('close', (_removed: boolean, done: () => void) => {
      instance = undefined; // SDK clients hold no sockets between requests (keep-alive agents time out)
      done();
    });
  }

  RED.nodes.registerType('clawflow-llm-provider', LlmProviderNode as any, {
    credentials: { apiKey: { type: 'password' } },
  });

  const perm = (RED as any).auth?.needsPermission ? (RED as any).auth.needsPermission('clawflow-llm-provider.write') : (_q: any, _s: any, n: () => void) => n();

  // The provider dropdown: built-ins plus anything plugins registered.
  RED.httpAdmin.get('/clawflow-llm-provider/providers', perm, (_req, res) => {
    syncPluginProviders((RED as any).plugins, warn);
    res.json({ providers: listProviders() });
  });

  // "Test connection / list models": with the key typed in the dialog, or the deployed
  // node's stored key when the dialog shows the placeholder. The key is never sent back.
  RED.httpAdmin.post('/clawflow-llm-provider/models', perm, async (req: any, res: any) => {
    const body = (req.body ?? {}) as Partial<ProviderDef> & { id?: string; apiKey?: string };
    let key = typeof body.apiKey === 'string' && body.apiKey && body.apiKey !== '__PWRD__' ? body.apiKey : undefined;
    if (!key && body.id) {
      const creds = (RED.nodes.getCredentials(body.id) ?? {}) as Creds;
      key = creds.apiKey;
    }
    const settings = settingsOf(body, key);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error('timeout')), Math.min(settings.timeoutMs ?? 15_000, 15_000));
    try {
      syncPluginProviders((RED as any).plugins, warn);
      const models = await createProvider(settings).listModels(ctl.signal);
      res.json({ ok: true, models: models.map((m) => m.id).sort() });
    } catch (err) {
      const e = err as { status?: number; status_code?: number; message?: string };
      const status = e.status ?? e.status_code;
      const text = redact(`${status ? `${status}: ` : ''}${e.message ?? String(err)}`, [key]);
      res.json({ ok: false, error: text.slice(0, 400) });
    } finally {
      clearTimeout(timer);
    }
  });
};
