/**
 * clawflow-session-end ("session end" in the palette): closes the turn the message belongs
 * to. The final reply (not a streamed partial) is appended to the session's history and the
 * session's lock and slot are released; then the message passes on unchanged, usually to a
 * channel-out node. An errored turn (msg.error) is released too, without a reply.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { isPartial, type StreamInfo } from '../src/envelope';
import { findGateway, type GatewayProvider, type GatewayStats } from '../src/gateway';

const TYPE = 'clawflow-session-end';

interface SessionEndDef extends NodeDef {
  sessions?: string;
}

type Msg = NodeMessageInFlow & Record<string, any>;

export = function (RED: NodeAPI) {
  const t = (key: string, params?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, params as any);

  function SessionEndNode(this: Node, config: SessionEndDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const provider = config.sessions
      ? (RED.nodes.getNode(config.sessions) as unknown as (Node & GatewayProvider) | null)
      : null;
    let ended = 0;
    let stale = 0;
    const user = {
      id: node.id,
      showStats(s: GatewayStats): void {
        // The store (Redis) cannot be reached: say so; the config node made the text.
        if (s.storeDown) return void node.status({ fill: 'red', shape: 'ring', text: s.storeDown });
        node.status({
          fill: s.active ? 'green' : 'grey',
          shape: s.waiting ? 'ring' : 'dot',
          text: t('status.counts', { active: s.active, waiting: s.waiting }),
        });
      },
    };
    provider?.register(user);

    node.on('input', (msg: Msg, send, done) => {
      if (isPartial(msg as { stream?: StreamInfo })) {
        send(msg);
        done();
        return;
      }
      const s = msg.session;
      if (!s || typeof s !== 'object' || typeof s.turnId !== 'string' || typeof s.key !== 'string' || typeof s.fence !== 'number') {
        done(new Error(t('errors.noSession')));
        return;
      }
      const gw =
        (provider?.gateway && provider.id === s.configId ? provider.gateway : undefined) ??
        (typeof s.configId === 'string' ? findGateway(s.configId) : undefined) ??
        provider?.gateway;
      if (!gw) {
        done(new Error(t('errors.noGateway', { configId: String(s.configId) })));
        return;
      }
      const error = msg.error ?? msg.llm?.error;
      const reply = typeof msg.payload === 'string' ? msg.payload : undefined;
      gw.endTurn(
        { key: s.key, turnId: s.turnId, fence: s.fence },
        { reply, error, context: s.context && typeof s.context === 'object' ? s.context : undefined, usage: msg.usage },
      ).then(
        async (r) => {
          // The session's running token total beside this turn's usage (msg.usage.session).
          const total = await gw.sessionUsage(s.key).catch(() => undefined);
          if (total) msg.usage = { ...(msg.usage && typeof msg.usage === 'object' ? msg.usage : {}), session: total };
          if (r === 'stale') {
            stale++;
            node.warn(t('warn.stale', { key: s.key }));
          } else {
            ended++;
          }
          if (!provider) node.status({ fill: 'grey', shape: 'dot', text: t('status.ended', { ended, stale }) });
          send(msg);
          done();
        },
        (err: Error) => done(new Error(t('errors.store', { key: s.key, message: err.message }))),
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      provider?.deregister(user);
      done();
    });
  }

  RED.nodes.registerType(TYPE, SessionEndNode);
};
