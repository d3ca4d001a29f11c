/**
 * clawflow-sessions: the config node that owns one session gateway (store + scheduler) and
 * hands its turns to the session nodes that use it. Thin: reads config, builds the engine of
 * src/gateway, relays events to user nodes, closes everything on redeploy.
 */
import os from 'os';
import path from 'path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import {
  FileSessionStore,
  Gateway,
  MemorySessionStore,
  registerGateway,
  unregisterGateway,
  type GatewayProvider,
  type GatewayStats,
  type GatewayUser,
  type KeyScheme,
  type GroupScope,
  type QueueMode,
  type SessionStore,
} from '../src/gateway';
import type { KeyValueStore } from '../src/store/kv';
import { RedisSessionStore } from '../src/gateway/redis-store';
import { parseIdentityLinks, type IdentityRow } from '../src/gateway/identity';
import type { BudgetLimits } from '../src/gateway/budgets';
import { summaryPrompt, type Summarise } from '../src/gateway/compaction';
import type { HistoryEntry } from '../src/gateway/types';
import { redact } from '../src/llm/errors';
import type { Provider, ProviderSettings } from '../src/llm/types';

/** What the summariser uses of a clawflow-llm-provider config node. */
interface ProviderConfigLike {
  settings(): ProviderSettings;
  provider(): Provider;
}

const TYPE = 'clawflow-sessions';
/** Status updates at most this often: a burst of 200 messages is not 600 status messages. */
const STATUS_EVERY_MS = 150;

interface SessionsDef extends NodeDef {
  store: 'file' | 'memory' | 'redis';
  dir?: string;
  /** store redis: URL (the password is the credential `redisPassword`), key prefix, idle TTL in s. */
  redisUrl?: string;
  redisPrefix?: string;
  redisIdleTtl?: string | number;
  concurrency: string | number;
  maxWaiting: string | number;
  maxWaitingPerSession: string | number;
  leaseSeconds: string | number;
  mode: QueueMode;
  keyScheme: KeyScheme;
  groupScope: GroupScope;
  threads: boolean;
  keyTemplate?: string;
  historyMessages: string | number;
  historyTokens: string | number;
  resetWords: string;
  channels?: string;
  busyText?: string;
  sessionBusyText?: string;
  resetText?: string;
  /** Quiet ms before a burst of messages becomes one turn (0: off). */
  debounce?: string | number;
  /** Chats may set their own queue mode with /queue. */
  queueCommand?: boolean;
  /** History compaction. */
  compact?: boolean;
  /** clawflow-llm-provider config id for summaries; empty: the provider of the flow's llm node. */
  summaryProvider?: string;
  summaryModel?: string;
  keepTurns?: string | number;
  /** Tell the chat (output 2, reason compacted) when the history was compacted. */
  compactNotice?: boolean;
  compactText?: string;
  budgetPeerMessages?: string | number;
  budgetPeerTokens?: string | number;
  budgetGroupMessages?: string | number;
  budgetGroupTokens?: string | number;
  budgetText?: string;
  expiredText?: string;
  /** Identity links (opt-in). */
  linkIdentities?: boolean;
  identities?: IdentityRow[];
}

/** The runtime shape of the config node, read by session and session end nodes. */
interface SessionsNode extends Node, GatewayProvider {}

const list = (s: string | undefined) =>
  (s ?? '')
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter(Boolean);

/**
 * The summariser of history compaction: one plain completion (no tools) on the provider that
 * `pick` returns at the time of the summary (config nodes may start in any order).
 */
function llmSummariser(pick: () => ProviderConfigLike | undefined, model: string | undefined, noProvider: () => string): Summarise {
  return async (entries: HistoryEntry[], o) => {
    const cfg = pick();
    if (!cfg) throw new Error(noProvider());
    const s = cfg.settings();
    const m = (model ?? '').trim() || s.defaultModel;
    if (!m) throw new Error(noProvider());
    try {
      const res = await cfg.provider().complete({
        model: m,
        messages: [{ role: 'user', content: summaryPrompt(entries, o.previous) }],
        tools: [],
        signal: o.signal,
        onText: () => undefined,
      });
      return res.text;
    } catch (err) {
      throw new Error(redact((err as Error).message ?? String(err), s.apiKey ? [s.apiKey] : []));
    }
  };
}

const num = (v: string | number | undefined, d: number) => {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
};

/** Listen to Node-RED's "flows started" (after every deploy); returns the unsubscribe. */
function onFlowsStartedOf(RED: NodeAPI): (fn: () => void) => () => void {
  return (fn) => {
    const events = RED.events as unknown as { on(e: string, f: () => void): void; removeListener(e: string, f: () => void): void };
    events.on('flows:started', fn);
    return () => events.removeListener('flows:started', fn);
  };
}

export = function (RED: NodeAPI) {
  const onFlowsStarted = onFlowsStartedOf(RED);
  const t = (key: string, params?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, params as any);

  function SessionsConfigNode(this: SessionsNode, config: SessionsDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const users = new Map<string, GatewayUser>();
    let store: SessionStore | undefined;
    let gateway: Gateway | undefined;
    let gatewayError: Error | undefined;
    let startTimer: NodeJS.Timeout | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    const offs: (() => void)[] = [];

    try {
      const budgets: BudgetLimits = {
        peerMessages: num(config.budgetPeerMessages, 0),
        peerTokens: num(config.budgetPeerTokens, 0),
        groupMessages: num(config.budgetGroupMessages, 0),
        groupTokens: num(config.budgetGroupTokens, 0),
      };
      const keepTurns = num(config.keepTurns, 4);
      if (!Number.isFinite(keepTurns) || keepTurns < 0) throw new RangeError(`turns kept verbatim must be 0 or more, got ${config.keepTurns}`);
      for (const [k, v] of Object.entries(budgets)) {
        if (!Number.isFinite(v) || v < 0) throw new RangeError(`budget ${k} must be a number of 0 or more, got ${v}`);
      }
      store =
        config.store === 'memory'
          ? new MemorySessionStore()
          : config.store === 'redis'
            ? redisStore()
            : new FileSessionStore(storeDir(), { onWarn: (text) => node.warn(text) });
      gateway = new Gateway({
        store,
        id: node.id,
        concurrency: num(config.concurrency, 10),
        maxWaiting: num(config.maxWaiting, 1000),
        maxWaitingPerSession: num(config.maxWaitingPerSession, 20),
        leaseMs: num(config.leaseSeconds, 300) * 1000,
        mode: config.mode || 'followup',
        keys: {
          scheme: config.keyScheme || 'per-channel-peer',
          groupScope: config.groupScope || 'per-group',
          threads: config.threads !== false,
          ...(config.keyTemplate ? { template: config.keyTemplate } : {}),
          ...(config.linkIdentities ? { links: parseIdentityLinks(config.identities) } : {}),
        },
        debounceMs: num(config.debounce, 0),
        allowQueueCommand: !!config.queueCommand,
        budgets,
        ...(config.compact
          ? {
              compaction: {
                summarise: llmSummariser(summaryProvider, config.summaryModel, () => t('errors.noSummaryProvider')),
                keepTurns,
              },
            }
          : {}),
        window: { maxMessages: num(config.historyMessages, 40), maxTokens: num(config.historyTokens, 8000) },
        resetWords: config.resetWords === undefined ? ['new', 'reset'] : list(config.resetWords),
        channels: list(config.channels),
      });
      registerGateway(gateway);
      offs.push(
        gateway.on('turn', (turn) => {
          const user = (turn.origin && users.get(turn.origin)?.startTurn ? users.get(turn.origin) : undefined) ??
            [...users.values()].find((u) => u.startTurn);
          // Nobody to run it (all session nodes removed): the lease releases it, with a warning.
          user?.startTurn?.(turn);
        }),
        gateway.on('expired', ({ key, leaseMs, chat, origin, turnId }) => {
          const shown = [...users.values()].filter((u) => u.leaseExpired);
          const user = shown.find((u) => u.id === origin) ?? shown[0];
          if (user) user.leaseExpired!(key, leaseMs, chat, turnId);
          else node.warn(t('warn.leaseExpired', { key, seconds: Math.round(leaseMs / 1000) }));
        }),
        gateway.on('compaction', ({ key, error }) => {
          if (error) node.warn(t('warn.compactionFailed', { key, message: error }));
        }),
        gateway.on('error', (err, key) => node.error(t('errors.engine', { key: key ?? '-', message: err.message }))),
        onFlowsStarted(() => {
          // A deploy restarted the llm node but not this one: its turns run again now.
          const n = gateway?.redispatchDropped() ?? 0;
          if (n) node.log(t('log.redispatched', { count: n }));
        }),
        gateway.on('change', () => {
          if (!statusTimer) statusTimer = setTimeout(flushStatus, STATUS_EVERY_MS);
        }),
      );
    } catch (err) {
      gatewayError = new Error(t('errors.config', { message: (err as Error).message }));
      node.error(gatewayError.message);
    }

    /** The provider config for summaries: the chosen one, else the one of the flow's first llm node. */
    function summaryProvider(): ProviderConfigLike | undefined {
      let id = config.summaryProvider;
      if (!id) {
        (RED.nodes as any).eachNode((n: { type?: string; provider?: string }) => {
          if (!id && n.type === 'clawflow-llm' && n.provider) id = n.provider;
        });
      }
      const cfg = id ? (RED.nodes.getNode(id) as unknown as ProviderConfigLike | null) : null;
      return cfg && typeof cfg.provider === 'function' ? cfg : undefined;
    }

    function storeDir(): string {
      if (config.dir && config.dir.trim()) return path.resolve(config.dir.trim());
      const userDir = (RED.settings as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
      return path.join(userDir, 'clawflow', 'sessions', node.id.replace(/[^A-Za-z0-9._-]/g, '_'));
    }

    function redisStore(): RedisSessionStore {
      const creds = (node as unknown as { credentials?: { redisPassword?: string } }).credentials;
      const idle = num(config.redisIdleTtl, 0);
      if (!Number.isFinite(idle) || idle < 0) throw new RangeError(`the idle TTL must be 0 or more seconds, got ${config.redisIdleTtl}`);
      return new RedisSessionStore({
        url: config.redisUrl || 'redis://127.0.0.1:6379',
        ...(creds?.redisPassword ? { password: creds.redisPassword } : {}),
        prefix: config.redisPrefix === undefined || config.redisPrefix === '' ? 'clawflow:' : config.redisPrefix,
        idleTtlMs: idle * 1000,
        concurrency: num(config.concurrency, 10),
      });
    }

    /** Last reported store state, so an outage is logged once, and its end too. */
    let storeWasDown = false;
    function flushStatus(): void {
      statusTimer = undefined;
      if (!gateway) return;
      let stats: GatewayStats = gateway.stats();
      if (stats.storeDown) stats = { ...stats, storeDown: t('status.storeDown', { kind: gateway.store.kind }) };
      if (!!stats.storeDown !== storeWasDown) {
        storeWasDown = !!stats.storeDown;
        if (storeWasDown) node.warn(t('warn.storeDown', { message: gateway.stats().storeDown ?? '' }));
        else node.log(t('log.storeBack'));
      }
      for (const u of users.values()) u.showStats(stats);
    }

    Object.defineProperty(node, 'gateway', { get: () => gateway });
    Object.defineProperty(node, 'gatewayError', { get: () => gatewayError });

    node.kvStore = (namespace: string): KeyValueStore => {
      if (!store) throw gatewayError ?? new Error(t('errors.noStore'));
      return store.kv(namespace);
    };

    const customText: Record<string, string | undefined> = {
      busy: config.busyText,
      session_busy: config.sessionBusyText,
      session_reset: config.resetText,
      budget_exceeded: config.budgetText,
      turn_expired: config.expiredText,
      compacted: config.compactText,
    };
    node.replyText = (reason: string, params?: Record<string, unknown>): string => {
      if (reason === 'compacted' && config.compactNotice === false) return '';
      const custom = customText[reason];
      return custom && custom.trim() ? custom : t(`reply.${reason}`, params);
    };

    let opened: Promise<Gateway> | undefined;
    /** Open the store and start running turns (once). */
    function start(): Promise<Gateway> {
      if (!gateway) return Promise.reject(gatewayError ?? new Error(t('errors.noStore')));
      if (startTimer) clearTimeout(startTimer);
      startTimer = undefined;
      if (!opened) {
        const gw = gateway;
        opened = gw.start().then(
          (r) => {
            if (r.waiting) node.log(t('log.resumed', { waiting: r.waiting, requeued: r.requeued }));
            flushStatus();
            return gw;
          },
          (err: Error) => {
            const e = new Error(t('errors.open', { message: err.message }));
            node.error(e.message);
            throw e;
          },
        );
      }
      return opened;
    }
    node.whenReady = start;

    node.register = (user: GatewayUser) => {
      users.set(user.id, user);
      if (gateway) user.showStats(gateway.stats());
      // Start once every node of this deploy had the chance to register, so that a turn
      // recovered from the store goes to the node that accepted its message.
      if (!opened && gateway && !startTimer) {
        startTimer = setTimeout(() => void start().catch(() => undefined), 0);
      }
    };

    node.deregister = (user: GatewayUser) => {
      users.delete(user.id);
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      if (startTimer) clearTimeout(startTimer);
      if (statusTimer) clearTimeout(statusTimer);
      startTimer = statusTimer = undefined;
      for (const off of offs.splice(0)) off();
      users.clear();
      if (!gateway) {
        done();
        return;
      }
      unregisterGateway(gateway);
      // Waiting and unfinished turns stay in the store: the next start runs them.
      gateway
        .close()
        .catch((err: Error) => node.error(t('errors.close', { message: err.message })))
        .finally(() => done());
    });
  }

  RED.nodes.registerType(TYPE, SessionsConfigNode as any, { credentials: { redisPassword: { type: 'password' } } } as any);
};
