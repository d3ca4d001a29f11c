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
    // The body comes from the editor, but is checked like any input: only strings are read.
    const raw = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
    const str = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
    const body: Partial<ProviderDef> = { provider: str('provider') as string, preset: str('preset'), baseUrl: str('baseUrl'), model: str('model'), timeout: str('timeout') ?? (typeof raw.timeout === 'number' ? raw.timeout : undefined) };
    const typed = str('apiKey');
    let key = typed && typed !== '__PWRD__' ? typed : undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const id = str('id');
      if (!key && id) {
        // The stored key goes only to the address it was saved for: a dialog with another
        // base URL (or provider) must have the key typed again (decision 0190).
        const deployed = RED.nodes.getNode(id) as ProviderConfigNode | null;
        const saved = deployed && typeof deployed.settings === 'function' ? deployed.settings() : undefined;
        const asked = settingsOf(body, undefined);
        if (saved && (saved.baseUrl !== asked.baseUrl || saved.provider !== asked.provider || saved.preset !== asked.preset)) {
          res.json({ ok: false, error: RED._('clawflow-llm-provider.errors.keyOtherUrl') });
          return;
        }
        key = saved?.apiKey;
      }
      const settings = settingsOf(body, key);
      const ctl = new AbortController();
      timer = setTimeout(() => ctl.abort(new Error('timeout')), Math.min(settings.timeoutMs ?? 15_000, 15_000));
      syncPluginProviders((RED as any).plugins, warn);
      const models = await createProvider(settings).listModels(ctl.signal);
      res.json({ ok: true, models: models.map((m) => m.id).sort() });
    } catch (err) {
      const e = err as { status?: number; status_code?: number; message?: string };
      const status = e.status ?? e.status_code;
      const text = redact(`${status ? `${status}: ` : ''}${e.message ?? String(err)}`, [key]);
      res.json({ ok: false, error: text.slice(0, 400) });
    } finally {
      if (timer) clearTimeout(timer);
    }
  });
};
