/**
 * clawflow-session ("session" in the palette): opens a turn. A chat message goes into its
 * session's queue; it leaves output 1 with `msg.session` (history window, turn id) when it is
 * the session's turn and a slot is free. Output 2 carries refusals (`msg.reason`, a ready reply
 * in `msg.payload`) and the confirmation of a reset. Thin: the queue is src/gateway.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { GatewayProvider, GatewayStats, Turn } from '../src/gateway';

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
        node.send([msg, null]);
      },
      showStats(s: GatewayStats): void {
        node.status({
          fill: s.active ? 'green' : 'grey',
          shape: s.waiting ? 'ring' : 'dot',
          text: t('status.counts', { active: s.active, waiting: s.waiting }),
        });
      },
      leaseExpired(key: string, leaseMs: number): void {
        node.warn(t('warn.leaseExpired', { key, seconds: Math.round(leaseMs / 1000) }));
      },
    };

    if (!provider) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.noConfig') });
    } else if (provider.gatewayError) {
      node.status({ fill: 'red', shape: 'ring', text: t('status.configError') });
    } else {
      provider.register(user);
    }

    node.on('input', (msg: Msg, send, done) => {
      if (!provider) {
        done(new Error(t('errors.noConfig')));
        return;
      }
      const text = typeof msg.payload === 'string' ? msg.payload : undefined;
      provider
        .whenReady()
        .then((gw) => gw.submit(msg.chat, text, { origin: node.id }))
        .then(
        (r) => {
          if (r.status === 'accepted') {
            live.set(r.id, msg);
          } else {
            const reason = r.status === 'reset' ? 'session_reset' : r.reason;
            msg.userText = text ?? msg.chat?.text;
            msg.reason = reason;
            msg.payload = provider.replyText(reason);
            msg.session = { key: r.key, configId: provider.id };
            send([null, msg]);
          }
          done();
        },
        (err: Error) => done(err),
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      live.clear();
      provider?.deregister(user);
      done();
    });
  }

  RED.nodes.registerType(TYPE, SessionNode);
};
