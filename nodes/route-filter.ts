/**
 * clawflow-route-filter: the Channel layer's access rules as one node. Thin: reads config,
 * asks the RouteFilter engine (src/routing) for a decision, maps it to msg and two outputs,
 * keeps the status (pending pairing requests) truthful. Output 1: accepted chat traffic.
 * Output 2: rejections with `msg.reason` (and a ready reply where the sender should hear
 * something) plus the answers to pairing control messages. Rejections that do not leave
 * output 2 (its default `replies` mode) are counted in the status, so nothing stops unseen.
 * Accepted group messages carry `msg.groupContext` (decision 0110).
 */
import path from 'path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { requireEnvelope } from '../src/envelope';
import { cancelHandoff, handedOff, handoffIdOf, HANDOFF_PROP } from '../src/handoff';
import { RouteFilter, type ControlResult, type Decision, type Notice, type Rejected } from '../src/routing';
import { FileKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '../src/store/kv';

const TYPE = 'clawflow-route-filter';

interface RouteFilterDef extends NodeDef {
  dmPolicy: string;
  owners: string;
  allowFrom: string;
  groupPolicy: string;
  groupAllow: string;
  requireMention: boolean;
  /** One regular expression per line; a match counts as a mention in groups. */
  mentionPatterns?: string;
  /** Unmentioned group messages kept per group (0 = off). */
  groupContext?: string | number;
  /** Minutes a kept group message stays relevant. */
  groupContextAge?: string | number;
  /** Exchanges per minute between another bot and us in one group (0 = off). */
  botLoopLimit?: string | number;
  rateLimit: string | number;
  rateWindow: string | number;
  codeTtl: string | number;
  maxPending: string | number;
  /** `replies`: output 2 carries only rejections the sender should hear about; `all`: every one. */
  output2: string;
  /** Optional clawflow-sessions config node that owns the store. */
  store?: string;
}

/** What this node needs from a clawflow-sessions config node. */
interface StoreProvider {
  kvStore(namespace: string): KeyValueStore;
}

type Msg = NodeMessageInFlow & Record<string, any>;
type SendFn = (msg: Array<Msg | Msg[] | null>) => void;

const CONTROL_TOPICS = ['pairing/approve', 'pairing/revoke', 'pairing/list'];
/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Status updates caused by chat traffic are coalesced to one per this many ms. */
const STATUS_EVERY_MS = 1000;

interface StatusShape {
  fill: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape: 'ring' | 'dot';
  text: string;
}

export = function (RED: NodeAPI) {
  const t = (key: string, params?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, params as any);

  function RouteFilterNode(this: Node, config: RouteFilterDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let filter: RouteFilter | undefined;
    let store: KeyValueStore | undefined;
    let ownsStore = false;
    let configError: Error | undefined;
    let expiryTimer: NodeJS.Timeout | undefined;
    let closed = false;
    // Status = the policy part (refreshStatus) + what stopped here unseen + a bot loop, if cut.
    let base: StatusShape | undefined;
    /** Rejections that did not leave output 2 (silent ones in `replies` mode). */
    let ignored = 0;
    let loopNote: { text: string; until: number } | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    let loopTimer: NodeJS.Timeout | undefined;
    let lastRender = 0;
    /** Messages still being decided; close waits for them so no store write outlives the node. */
    const inflight = new Set<Promise<void>>();
    const sendAll = config.output2 === 'all';

    try {
      ({ store, owned: ownsStore } = openStore());
      filter = new RouteFilter({
        dmPolicy: (config.dmPolicy || 'pairing') as never,
        groupPolicy: (config.groupPolicy || 'allowlist') as never,
        requireMention: config.requireMention !== false,
        mentionPatterns: config.mentionPatterns,
        groupContextSize: optionalNumber(config.groupContext),
        groupContextMaxAgeMs: scaled(config.groupContextAge, 60_000),
        botLoopLimit: optionalNumber(config.botLoopLimit),
        owners: config.owners,
        allowFrom: config.allowFrom,
        groupAllow: config.groupAllow,
        rateLimit: optionalNumber(config.rateLimit),
        rateWindowMs: scaled(config.rateWindow, 1000),
        codeTtlMs: scaled(config.codeTtl, 60_000),
        maxPendingPerChannel: optionalNumber(config.maxPending),
        store,
        t: (key, params) => t(`replies.${key}`, params),
      });
    } catch (err) {
      configError = new Error(t('errors.config', { error: (err as Error).message }));
      node.error(configError.message);
      node.status({ fill: 'red', shape: 'ring', text: t('status.configError') });
    }

    if (filter) {
      filter
        .load()
        .then(() => refreshStatus())
        .catch((err: Error) => {
          if (closed) return;
          node.error(t('errors.store', { error: err.message }));
          node.status({ fill: 'red', shape: 'ring', text: t('status.storeError') });
        });
    }

    /** The node's own file store, or the shared one of a clawflow-sessions config node. */
    function openStore(): { store: KeyValueStore; owned: boolean } {
      // Inside a subflow the node id changes on every deploy; the alias and instance do not.
      const alias = (node as any)._alias as string | undefined;
      const stableId = alias ? `${node.z}-${alias}` : node.id;
      if (config.store) {
        const provider = RED.nodes.getNode(config.store) as unknown as Partial<StoreProvider> | null;
        if (!provider || typeof provider.kvStore !== 'function') throw new Error(t('errors.storeNode'));
        return { store: provider.kvStore(`pairing-${stableId}`), owned: false };
      }
      const userDir = (RED.settings as any).userDir as string | undefined;
      if (!userDir) {
        node.warn(t('errors.noUserDir'));
        return { store: new MemoryKeyValueStore(), owned: true };
      }
      return { store: FileKeyValueStore.inDir(path.join(userDir, 'clawflow', 'pairing'), stableId), owned: true };
    }

    /** Status: the policy, and under pairing the number of requests waiting for the owner. */
    async function refreshStatus(): Promise<void> {
      if (!filter || closed) return;
      if (expiryTimer) clearTimeout(expiryTimer);
      expiryTimer = undefined;
      if (filter.dmPolicy !== 'pairing') {
        const fill = filter.dmPolicy === 'open' ? 'yellow' : 'green';
        base = { fill, shape: 'dot', text: t(`status.${filter.dmPolicy}`) };
        render();
        return;
      }
      const s = await filter.summary();
      if (closed) return;
      base =
        s.pending > 0
          ? { fill: 'yellow', shape: 'ring', text: t('status.pending', { count: s.pending, approved: s.approved }) }
          : { fill: 'green', shape: 'dot', text: t('status.pairing', { approved: s.approved }) };
      render();
      // Codes expire without any message arriving; look again when the next one does.
      if (s.nextExpiry !== undefined) {
        const wait = Math.min(MAX_TIMER_MS, Math.max(0, s.nextExpiry - Date.now()) + 50);
        expiryTimer = setTimeout(() => {
          expiryTimer = undefined;
          refreshStatus().catch((err: Error) => node.error(t('errors.store', { error: err.message })));
        }, wait);
      }
    }

    /** Show the status now: a cut bot loop first, then the policy, and the unseen count. */
    function render(): void {
      if (closed || configError) return;
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = undefined;
      lastRender = Date.now();
      const suffix = ignored > 0 ? ` · ${t('status.ignored', { count: ignored })}` : '';
      if (loopNote && Date.now() < loopNote.until) {
        node.status({ fill: 'yellow', shape: 'ring', text: loopNote.text + suffix });
        return;
      }
      loopNote = undefined;
      if (base) node.status({ ...base, text: base.text + suffix });
    }

    /** Status after chat traffic: at most one update per STATUS_EVERY_MS, the last one kept. */
    function renderSoon(): void {
      if (closed || statusTimer) return;
      const wait = lastRender + STATUS_EVERY_MS - Date.now();
      if (wait <= 0) return render();
      statusTimer = setTimeout(render, wait);
    }

    /** A bot loop was cut: warn once per window (the engine says when) and show it until the window ends. */
    function noteBotLoop(loop: NonNullable<Rejected['botLoop']>): void {
      const p = loop.pair;
      const params = { channel: p.channel, chatId: p.chatId, bot: p.botName ? `${p.botName} (${p.botId})` : p.botId, account: p.account, limit: filter?.botLoop.opts.limit ?? 0 };
      if (loop.warn) node.warn(t('warnings.botLoop', params));
      loopNote = { text: t('status.botLoop', params), until: Date.now() + loop.retryAfterMs };
      if (loopTimer) clearTimeout(loopTimer);
      loopTimer = setTimeout(() => {
        loopTimer = undefined;
        render();
      }, Math.min(MAX_TIMER_MS, loop.retryAfterMs + 10));
      if (loop.warn) render();
    }

    node.on('input', (msg: Msg, send: SendFn, done: (err?: Error) => void) => {
      // Hand-off (decision 0160): an accepted msg carries its id on to the session node; a
      // rejected or failed one ends here, so say so; after close, its channel re-delivers it.
      const handoff = handoffIdOf(msg);
      if (closed) {
        cancelHandoff(handoff);
        done(new Error(t('errors.closed')));
        return;
      }
      const work = handle(msg, send).then(
        () => done(),
        (err: Error) => {
          handedOff(handoff);
          done(err);
        },
      );
      inflight.add(work);
      void work.finally(() => inflight.delete(work));
    });

    async function handle(msg: Msg, send: SendFn): Promise<void> {
      if (configError || !filter) throw configError ?? new Error(t('errors.notReady'));
      // Control messages come from an inject or dashboard, never with a chat envelope: a chat
      // message whose topic happens to look like one is still treated as chat.
      if (msg.chat === undefined && typeof msg.topic === 'string' && msg.topic.startsWith('pairing/')) {
        return control(filter, msg, send);
      }
      const chat = requireEnvelope(msg.chat);
      const decision = await filter.decide(chat);
      emit(decision, msg, send);
      if (decision.reason.startsWith('pairing_')) await refreshStatus();
    }

    function emit(decision: Decision, msg: Msg, send: SendFn): void {
      msg.route = { accepted: decision.accept, reason: decision.reason };
      if (decision.accept) {
        if (decision.mention) msg.route.mention = decision.mention;
        // The one canonical place (read by the session gateway); never a stale upstream value.
        if (decision.groupContext) msg.groupContext = decision.groupContext;
        else delete msg.groupContext;
        send([msg, null]);
        return;
      }
      handedOff(handoffIdOf(msg));
      delete msg[HANDOFF_PROP];
      if (decision.botLoop) noteBotLoop(decision.botLoop);
      msg.reason = decision.reason;
      if (decision.reply) msg.payload = decision.reply.text;
      if (decision.pairing) msg.pairing = { code: decision.pairing.code, expiresAt: decision.pairing.expiresAt };
      const out: Msg[] = [];
      if (decision.reply || sendAll) out.push(msg);
      for (const n of decision.notices ?? []) out.push(noticeMsg(n));
      if (out.length) send([null, out]);
      if (!out.includes(msg)) {
        ignored++;
        renderSoon();
      }
    }

    function noticeMsg(n: Notice): Msg {
      return {
        _msgid: RED.util.generateId(),
        payload: n.reply.text,
        chat: n.chat,
        reason: n.reason,
        route: { accepted: false, reason: n.reason },
      } as Msg;
    }

    async function control(f: RouteFilter, msg: Msg, send: SendFn): Promise<void> {
      const arg = typeof msg.payload === 'string' || typeof msg.payload === 'number' ? String(msg.payload).trim() : '';
      let res: ControlResult;
      switch (msg.topic) {
        case 'pairing/approve':
          if (!arg) throw new Error(t('errors.needCode'));
          res = await f.approve(arg);
          break;
        case 'pairing/revoke':
          if (!arg) throw new Error(t('errors.needTarget'));
          res = await f.revoke(arg);
          break;
        case 'pairing/list':
          res = await f.list();
          break;
        default:
          throw new Error(t('errors.unknownTopic', { topic: msg.topic, topics: CONTROL_TOPICS.join(', ') }));
      }
      if (res.action === 'approve') {
        if (!res.outcome.ok) throw new Error(t(`errors.${res.outcome.why}Code`, { code: res.outcome.code }));
        // The answer is the requester's notice: wire it straight to a channel out node.
        msg.reason = 'pairing_approved';
        msg.pairing = { action: 'approve', peer: res.outcome.peer };
        if (res.notice) {
          msg.chat = res.notice.chat;
          msg.payload = res.notice.reply.text;
        } else {
          msg.payload = `${res.outcome.peer.channel}:${res.outcome.peer.senderId}`;
        }
      } else if (res.action === 'revoke') {
        const removed = [...res.outcome.approved, ...res.outcome.pending];
        if (!removed.length) throw new Error(t('errors.revokeNothing', { target: arg }));
        msg.reason = 'pairing_revoked';
        msg.payload = removed.map((p) => `${p.channel}:${p.senderId}`);
        msg.pairing = { action: 'revoke', ...res.outcome };
      } else {
        msg.reason = 'pairing_list';
        msg.payload = [
          ...res.listing.pending.map((p) => ({
            status: 'pending',
            channel: p.channel,
            senderId: p.senderId,
            senderName: p.senderName,
            code: p.code,
            expiresAt: p.expiresAt,
          })),
          ...res.listing.approved.map((a) => ({
            status: 'approved',
            channel: a.channel,
            senderId: a.senderId,
            senderName: a.senderName,
            approvedAt: a.approvedAt,
            approvedBy: a.approvedBy,
          })),
        ];
      }
      msg.route = { accepted: false, reason: msg.reason };
      send([null, msg]);
      await refreshStatus();
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      for (const timer of [expiryTimer, statusTimer, loopTimer]) if (timer) clearTimeout(timer);
      expiryTimer = statusTimer = loopTimer = undefined;
      const s = ownsStore ? store : undefined;
      store = undefined;
      // A redeploy opens the same store file again: let pending decisions finish writing first.
      Promise.allSettled([...inflight])
        .then(() => s?.close?.())
        .catch((err: Error) => node.warn(t('errors.store', { error: err.message })))
        .finally(() => done());
    });
  }

  RED.nodes.registerType(TYPE, RouteFilterNode as any);
};

/** An empty editor field means "the default". */
function optionalNumber(v: unknown): number | undefined {
  if (v === undefined || v === null || String(v).trim() === '') return undefined;
  return Number(v);
}

function scaled(v: unknown, factor: number): number | undefined {
  const n = optionalNumber(v);
  return n === undefined ? undefined : n * factor;
}
