/**
 * clawflow-telegram-bot: the config node that owns the one Telegram client of a bot token.
 * In/out nodes register with it and show its status; it maps the client's state to status
 * texts (in its own message catalog) and holds the webhook route in webhook mode.
 */
import path from 'path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { FileKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '../src/store/kv';
import {
  claimToken,
  deriveWebhookSecret,
  removeStaleTempFiles,
  SECRET_HEADER,
  setAsideCorruptFile,
  TelegramClient,
  webhookUrl,
  type ClientStatus,
  type InboundEvent,
} from '../src/channels/telegram';
import type { NodeStatusLike, TelegramBotConfig, TelegramBotUser } from '../src/channels/telegram/config-contract';

interface TelegramBotDef extends NodeDef {
  mode?: 'polling' | 'webhook';
  apiRoot?: string;
  webhookBaseUrl?: string;
  webhookPath?: string;
}

interface Credentials {
  token?: string;
  webhookSecret?: string;
}

type TelegramBotNode = Node & TelegramBotConfig;

/** Tuning from settings.js (`clawflowTelegram: { ... }`), mainly for tests and slow networks. */
interface TelegramSettings {
  pollTimeoutSeconds?: number;
  backoffMs?: number;
  backoffMaxMs?: number;
  conflictBackoffMs?: number;
  conflictBackoffMaxMs?: number;
}

const TOKEN_SHAPE = /^\d+:[A-Za-z0-9_-]{10,}$/;

/**
 * One store per offsets file in this process: every bot keeps its offset as a key of the same
 * file, and a store rewrites the whole file from its own cache, so two stores on one file
 * would overwrite each other's bots (survives redeploys, like the file).
 */
const offsetFiles = new Map<string, FileKeyValueStore>();
function offsetFile(file: string): FileKeyValueStore {
  let store = offsetFiles.get(file);
  if (!store) offsetFiles.set(file, (store = new FileKeyValueStore(file)));
  return store;
}

export = function (RED: NodeAPI) {
  function TelegramBot(this: TelegramBotNode, config: TelegramBotDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as Credentials;
    const label = config.name ? `'${config.name}'` : node.id;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`clawflow-telegram-bot.${key}`, params as never);
    const users = new Map<string, { user: TelegramBotUser; unsubscribe?: () => void }>();
    const cleanups: (() => void)[] = [];
    let releaseToken: (() => void) | undefined;
    let routePath: string | undefined;
    let lastFailureKind: string | undefined;

    node.statusNow = () => {
      if (node.configError) return { fill: 'red', shape: 'dot', text: node.configError };
      return statusOf(node.client!.currentStatus);
    };

    function statusOf(s: ClientStatus): NodeStatusLike {
      const reason = s.failure?.description ?? '';
      switch (s.state) {
        case 'connecting':
          return { fill: 'yellow', shape: 'ring', text: t('status.connecting') };
        case 'ready':
          if (s.mode === 'webhook') return { fill: 'green', shape: 'dot', text: t('status.webhook') };
          return { fill: 'green', shape: 'dot', text: node.client!.subscriberCount ? t('status.polling') : t('status.connected') };
        case 'reconnecting': {
          const seconds = Math.ceil((s.retryInMs ?? 0) / 1000);
          if (s.failure?.kind === 'conflict') return { fill: 'red', shape: 'ring', text: t('status.conflict', { seconds }) };
          return { fill: 'yellow', shape: 'ring', text: t('status.reconnecting', { reason, seconds }) };
        }
        case 'failed':
          if (s.failure?.kind === 'unauthorized') return { fill: 'red', shape: 'dot', text: t('status.unauthorized') };
          return { fill: 'red', shape: 'dot', text: t('status.failed', { reason }) };
        default:
          return { fill: 'grey', shape: 'ring', text: t('status.stopped') };
      }
    }

    /** An error worth a log line (and a Catch node) on entering this state, or undefined. */
    function notable(s: ClientStatus): string | undefined {
      const kind = s.failure?.kind;
      const entering = kind !== lastFailureKind;
      lastFailureKind = s.state === 'ready' ? undefined : kind;
      if (!entering) return undefined;
      if (s.state === 'failed' && kind === 'unauthorized') return t('errors.unauthorized', { node: label, code: s.failure?.code ?? 401 });
      if (s.state === 'failed') return t('errors.failed', { node: label, reason: s.failure?.description ?? '' });
      if (kind === 'conflict') return t('errors.conflict', { node: label, reason: s.failure?.description ?? '' });
      return undefined;
    }

    const broadcast = () => {
      const status = node.statusNow();
      for (const { user } of users.values()) user.status(status);
    };

    node.register = (user, onInbound) => {
      const entry: { user: TelegramBotUser; unsubscribe?: () => void } = { user };
      users.set(user.id, entry);
      if (onInbound && node.client) {
        user.receivesUpdates = true;
        entry.unsubscribe = node.client.subscribe(onInbound);
      }
      broadcast();
    };

    node.deregister = (user) => {
      const entry = users.get(user.id);
      users.delete(user.id);
      entry?.unsubscribe?.();
    };

    function reportToUsers(text: string): void {
      const receivers = [...users.values()].map((u) => u.user).filter((u) => u.receivesUpdates);
      if (receivers.length) for (const u of receivers) u.error(text, {});
      else node.error(text);
    }

    // --- configuration checks: a clear error, never a throw out of the constructor ---
    const token = (creds.token ?? '').trim();
    const mode = config.mode === 'webhook' ? 'webhook' : 'polling';
    if (!token) node.configError = t('errors.noToken', { node: label });
    else if (!TOKEN_SHAPE.test(token)) node.configError = t('errors.tokenShape', { node: label });
    else if (config.apiRoot && !/^https?:\/\/[^\s]+$/.test(config.apiRoot.trim())) node.configError = t('errors.apiRoot', { node: label });
    else if (mode === 'webhook' && !(config.webhookBaseUrl ?? '').trim().match(/^https?:\/\/\S+$/)) node.configError = t('errors.webhookUrl', { node: label });
    else if (mode === 'webhook' && !(config.webhookPath ?? '').trim().match(/^\/[\w\-./]*$/)) node.configError = t('errors.webhookPath', { node: label });
    if (!node.configError) {
      try {
        releaseToken = claimToken(token, label);
      } catch (err) {
        node.configError = t('errors.duplicateToken', { node: label, owner: (err as { owner?: string }).owner ?? '?' });
      }
    }
    if (node.configError) {
      node.error(node.configError);
    } else {
      const settings = ((RED.settings as unknown as { clawflowTelegram?: TelegramSettings }).clawflowTelegram ?? {}) as TelegramSettings;
      const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
      let store: KeyValueStore;
      if (userDir) {
        const file = path.join(userDir, 'clawflow', 'telegram', 'offsets.json');
        // Temp files of saves cut short by a crash (kill -9) would pile up in the user dir.
        removeStaleTempFiles(file);
        if (!offsetFiles.has(file)) {
          const aside = setAsideCorruptFile(file);
          if (aside) node.warn(t('errors.offsetsCorrupt', { file: aside }));
        }
        store = offsetFile(file);
      } else {
        store = new MemoryKeyValueStore();
        node.warn(t('errors.noUserDir'));
      }
      const secret = (creds.webhookSecret ?? '').trim() || deriveWebhookSecret(token);
      routePath = mode === 'webhook' ? (config.webhookPath ?? '').trim() : undefined;
      const client = new TelegramClient({
        token,
        mode,
        store,
        ...(config.apiRoot?.trim() ? { apiRoot: config.apiRoot.trim() } : {}),
        ...(mode === 'webhook' ? { webhook: { url: webhookUrl(config.webhookBaseUrl!.trim(), routePath!), secret } } : {}),
        ...(settings.pollTimeoutSeconds !== undefined ? { pollTimeoutSeconds: settings.pollTimeoutSeconds } : {}),
        ...(settings.backoffMs ? { backoff: { initialMs: settings.backoffMs, maxMs: settings.backoffMaxMs ?? 30_000 } } : {}),
        ...(settings.conflictBackoffMs
          ? { conflictBackoff: { initialMs: settings.conflictBackoffMs, maxMs: settings.conflictBackoffMaxMs ?? 60_000 } }
          : {}),
      });
      node.client = client;
      cleanups.push(
        client.onStatus((s) => {
          const text = notable(s);
          if (text) reportToUsers(text);
          broadcast();
        }),
        client.onProblem((err) => reportToUsers(t('errors.problem', { node: label, reason: err.message }))),
      );
      if (routePath) {
        // The answer waits for the flow's hand-off (bounded by telegram in): 503 = not taken,
        // Telegram sends the update again (decision 0170).
        const handler = (req: any, res: any) => {
          readBody(req)
            .then(
              (body) => client.handleWebhook(req.headers[SECRET_HEADER], body),
              () => 400,
            )
            .then((status) => {
              if (!res.headersSent) res.sendStatus(status);
            })
            .catch((err: unknown) => node.debug(String(err)));
        };
        RED.httpNode.post(routePath, handler);
      }
      client.start().catch((err) => node.error(String(err)));
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      for (const c of cleanups.splice(0)) c();
      if (routePath) removeRoute(RED.httpNode, routePath);
      for (const entry of users.values()) entry.unsubscribe?.();
      users.clear();
      const closing = node.client ? node.client.close() : Promise.resolve();
      closing
        .catch((err) => node.warn(String(err)))
        .finally(() => {
          releaseToken?.();
          done();
        });
    });
  }

  RED.nodes.registerType('clawflow-telegram-bot', TelegramBot as any, {
    credentials: { token: { type: 'password' }, webhookSecret: { type: 'password' } },
  });
};

/** The body as JSON: parsed already by Node-RED's body parser, or read here. */
function readBody(req: any): Promise<unknown> {
  if (req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

/** Express has no "remove route": drop our POST layer from the router stack (as core http-in does). */
function removeRoute(app: any, routePath: string): void {
  const stack: any[] | undefined = app?._router?.stack ?? app?.router?.stack;
  if (!stack) return;
  for (let i = stack.length - 1; i >= 0; i--) {
    const r = stack[i].route;
    if (r && r.path === routePath && r.methods?.post) stack.splice(i, 1);
  }
}
