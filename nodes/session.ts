/**
 * clawflow-session ("session" in the palette): opens a turn. A chat message goes into its
 * session's queue; it leaves output 1 with `msg.session` (history window, turn id) when it is
 * the session's turn and a slot is free. Output 2 carries refusals (`msg.reason`, a ready reply
 * in `msg.payload`) and the confirmation of a reset. Thin: the queue is src/gateway.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { GatewayProvider, GatewayStats, Turn } from '../src/gateway';
import { groupContextOf } from '../src/gateway/group-context';
import type { ChatEnvelope } from '../src/envelope';
import { acceptHandoffs, cancelHandoff, handedOff, handoffIdOf, HANDOFF_PROP } from '../src/handoff';

const TYPE = 'clawflow-session';

interface SessionDef extends NodeDef {
  sessions: string;
}

type Msg = NodeMessageInFlow & Record<string, any>;

export = function (RED: NodeAPI) {
  const t = (key: string, params?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, params as any);

  function SessionNode(this: Node, config: SessionDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const provider = RED.nodes.getNode(config.sessions) as unknown as (Node & GatewayProvider) | null;
    /** Accepted messages waiting for their turn, by gateway message id (never persisted). */
    const live = new Map<string, Msg>();
    /** After close a message is refused (done(err)) and not handed off: its channel re-delivers it. */
    let closed = false;
    let releaseHandoffs: (() => void) | undefined;

    const user = {
      id: node.id,
      startTurn(turn: Turn): void {
        // The newest message of the turn carries on (collect mode: the earlier ones merge into
        // it). After a restart the original msg is gone: a new one is built from the journal.
        let msg = live.get(turn.items[turn.items.length - 1].id);
        for (const item of turn.items) live.delete(item.id);
        if (!msg) msg = { _msgid: RED.util.generateId(), chat: turn.chat } as Msg;
        msg.payload = turn.text;
        msg.session = {
          key: turn.key,
          turnId: turn.turnId,
          fence: turn.fence,
          history: turn.history,
          context: turn.context,
          configId: provider!.id,
        };
        // One short line in the chat when older history was summarised (if the notice is on).
        const notice = turn.compacted ? provider!.replyText('compacted') : '';
        const noticeMsg = notice
          ? { _msgid: RED.util.generateId(), chat: turn.chat, payload: notice, reason: 'compacted', compacted: turn.compacted, session: { key: turn.key, configId: provider!.id } }
          : null;
        node.send([msg, noticeMsg]);
      },
      showStats(s: GatewayStats): void {
        // The store (Redis) cannot be reached: say so; the config node made the text.
        if (s.storeDown) return void node.status({ fill: 'red', shape: 'ring', text: s.storeDown });
        const counts = t('status.counts', { active: s.active, waiting: s.waiting });
        const extra = [
          ...(s.tokens ? [t('status.tokens', { tokens: s.tokens })] : []),
          ...(s.budgetDropped ? [t('status.dropped', { dropped: s.budgetDropped })] : []),
        ];
        node.status({
          fill: s.active ? 'green' : 'grey',
          shape: s.waiting ? 'ring' : 'dot',
          text: [counts, ...extra].join(', '),
        });
      },
      leaseExpired(key: string, leaseMs: number, chat?: ChatEnvelope, turnId?: string): void {
        node.warn(t('warn.leaseExpired', { key, seconds: Math.round(leaseMs / 1000) }));
        // The watchdog: the user is told, with a ready apology, instead of waiting forever.
        if (chat) {
          node.send([
            null,
            {
              _msgid: RED.util.generateId(),
              chat,
              payload: provider!.replyText('turn_expired'),
              reason: 'turn_expired',
              session: { key, turnId, configId: provider!.id },
            },
          ]);
        }
      },
    };

    if (!provider) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.noConfig') });
    } else if (provider.gatewayError) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.configError') });
    } else {
      provider.register(user);
      releaseHandoffs = acceptHandoffs();
    }

    node.on('input', (msg: Msg, send, done) => {
      // Hand-off (decision 0160): said once the message is journaled or answered, so its
      // channel may confirm it; the id is internal and does not travel further.
      const handoff = handoffIdOf(msg);
      delete msg[HANDOFF_PROP];
      if (closed) {
        cancelHandoff(handoff);
        done(new Error(t('errors.closed')));
        return;
      }
      if (!provider) {
        handedOff(handoff);
        done(new Error(t('errors.noConfig')));
        return;
      }
      const text = typeof msg.payload === 'string' ? msg.payload : undefined;
      provider
        .whenReady()
        .then((gw) => gw.submit(msg.chat, text, { origin: node.id, groupContext: groupContextOf(msg) }))
        .then(
        (r) => {
          if (r.status === 'accepted') {
            // A steered message reached the running turn: its reply answers it, no msg leaves.
            live.set(r.id, msg);
            handedOff(handoff);
            done();
            return;
          }
          if (r.status === 'duplicate') {
            // Delivered again (a restart before the channel confirmed it): it was accepted
            // before and runs (or ran) once; answering it again would answer twice.
            node.log(t('log.duplicate', { key: r.key }));
            handedOff(handoff);
            done();
            return;
          }
          if (handoff && r.status === 'rejected' && r.reason === 'closed') {
            // Closing under a redeploy: the channel delivers it again, no "send it again" reply.
            cancelHandoff(handoff);
            done(new Error(t('errors.closed')));
            return;
          }
          let reason: string;
          let reply: string;
          if (r.status === 'reset') {
            reason = 'session_reset';
            reply = provider.replyText(reason);
          } else if (r.status === 'queue_mode') {
            reason = 'queue_mode';
            reply = provider.replyText(reason, { mode: r.mode });
            msg.queueMode = r.mode;
          } else if (r.status === 'compacted') {
            reason = 'compacted';
            msg.compacted = { entries: r.entries, ...(r.error ? { error: r.error } : {}) };
            reply = r.error
              ? t('reply.compactFailed')
              : r.entries
                ? provider.replyText('compacted') || t('reply.compactDone', { entries: r.entries })
                : t('reply.compactNothing');
          } else {
            reason = r.reason;
            if (r.reason === 'budget_exceeded' && !r.notify) {
              // Told once today already: drop silently (counted in the status).
              handedOff(handoff);
              done();
              return;
            }
            reply = provider.replyText(reason);
          }
          msg.userText = text ?? msg.chat?.text;
          msg.reason = reason;
          msg.payload = reply;
          msg.session = { key: r.key, configId: provider.id };
          send([null, msg]);
          handedOff(handoff);
          done();
        },
        (err: Error) => {
          // Reported to Catch nodes: the journey ends here (re-delivering would fail again).
          handedOff(handoff);
          done(err);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      releaseHandoffs?.();
      releaseHandoffs = undefined;
      live.clear();
      provider?.deregister(user);
      done();
    });
  }

  RED.nodes.registerType(TYPE, SessionNode);
};
