/**
 * `clawflow-webchat-in`: one message per line a visitor sends on the web chat page, with the
 * chat envelope on msg.chat (channel `webchat`, chat = the browser's peer id).
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { webchatEnvelope, type WebchatHub, type WebchatState } from '../src/channels/webchat';
import { cancelHandoff, expectHandoff, HANDOFF_PROP, newHandoffId } from '../src/handoff';
import { sessionNodeExpected } from './shared/session-deployed';

/** Default bound on waiting for a session node to take a message (decisions 0160, 0170). */
const HANDOFF_TIMEOUT_MS = 2000;

type WebchatConfigNode = Node & WebchatHub;

interface WebchatInDef extends NodeDef {
  webchat: string;
}

export = function (RED: NodeAPI) {
  function WebchatInNode(this: Node, config: WebchatInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const tuning = (RED.settings as unknown as { clawflowWebchat?: { handoffTimeoutMs?: number } }).clawflowWebchat;
    const handoffMs = Number.isFinite(tuning?.handoffTimeoutMs) ? Number(tuning!.handoffTimeoutMs) : HANDOFF_TIMEOUT_MS;
    /** Hand-offs this node waits for: cancelled on close so the page sends them again. */
    const pending = new Set<string>();
    const cfg = RED.nodes.getNode(config.webchat) as WebchatConfigNode | null;
    if (!cfg || typeof cfg.subscribe !== 'function') {
      node.status({ fill: 'red', shape: 'ring', text: RED._('clawflow-webchat-in.status.no-config') });
      node.error(RED._('clawflow-webchat-in.errors.no-config'));
      return;
    }
    const unsubscribe = cfg.subscribe((s: WebchatState) => {
      if (s.state === 'failed') node.status({ fill: 'red', shape: 'ring', text: RED._('clawflow-webchat-in.status.failed') });
      else if (s.state === 'stopped') node.status({ fill: 'grey', shape: 'ring', text: RED._('clawflow-webchat-in.status.stopped') });
      else if (s.clients > 0) node.status({ fill: 'green', shape: 'dot', text: RED._('clawflow-webchat-in.status.clients', { count: s.clients }) });
      else node.status({ fill: 'green', shape: 'ring', text: RED._('clawflow-webchat-in.status.ready', { url: s.url }) });
    });
    // The page gets its "received" ack only once the promise returned here settles: when a
    // session node journaled (or answered) the message, or after the bound (decision 0170).
    const stop = cfg.onInbound((m): void | Promise<boolean> => {
      const chat = webchatEnvelope(cfg.id, m);
      const msg: Record<string, unknown> = { payload: m.text, chat, topic: m.peerId };
      // No session node deployed: nothing would ever hand off, so do not wait for it.
      if (handoffMs <= 0 || !sessionNodeExpected(RED)) return void node.send(msg as any);
      const id = newHandoffId();
      pending.add(id);
      const outcome = expectHandoff(id, handoffMs);
      msg[HANDOFF_PROP] = id;
      node.send(msg as any);
      return outcome.then((o) => {
        pending.delete(id);
        return o !== 'cancelled';
      });
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      stop();
      unsubscribe();
      // Messages still on their way were not taken: the page keeps them and sends them again.
      for (const id of [...pending]) cancelHandoff(id);
      pending.clear();
      done();
    });
  }
  RED.nodes.registerType('clawflow-webchat-in', WebchatInNode as any);
};
