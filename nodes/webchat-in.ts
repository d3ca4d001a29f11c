/**
 * `clawflow-webchat-in`: one message per line a visitor sends on the web chat page, with the
 * chat envelope on msg.chat (channel `webchat`, chat = the browser's peer id).
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { webchatEnvelope, type WebchatHub, type WebchatState } from '../src/channels/webchat';

type WebchatConfigNode = Node & WebchatHub;

interface WebchatInDef extends NodeDef {
  webchat: string;
}

export = function (RED: NodeAPI) {
  function WebchatInNode(this: Node, config: WebchatInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
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
    const stop = cfg.onInbound((m) => {
      const chat = webchatEnvelope(cfg.id, m);
      node.send({ payload: m.text, chat, topic: m.peerId } as any);
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      stop();
      unsubscribe();
      done();
    });
  }
  RED.nodes.registerType('clawflow-webchat-in', WebchatInNode as any);
};
