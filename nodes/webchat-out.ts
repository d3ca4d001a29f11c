/**
 * `clawflow-webchat-out`: shows msg.payload in the web chat of msg.chat. Streamed partials
 * (msg.stream.done === false) update one reply in place; the final completes it; msg.error
 * (or msg.reason 'llm_error') shows a failed reply. Replies to a browser that is offline wait
 * in the chat's outbox until it reconnects.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { requireEnvelope } from '../src/envelope';
import { updateFromMsg, type WebchatHub, type WebchatState } from '../src/channels/webchat';

type WebchatConfigNode = Node & WebchatHub;

interface WebchatOutDef extends NodeDef {
  webchat: string;
}

export = function (RED: NodeAPI) {
  function WebchatOutNode(this: Node, config: WebchatOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const cfg = RED.nodes.getNode(config.webchat) as WebchatConfigNode | null;
    if (!cfg || typeof cfg.subscribe !== 'function') {
      node.status({ fill: 'red', shape: 'ring', text: RED._('clawflow-webchat-out.status.no-config') });
    }
    const unsubscribe = cfg?.subscribe((s: WebchatState) => {
      if (s.state === 'failed') node.status({ fill: 'red', shape: 'ring', text: RED._('clawflow-webchat-out.status.failed') });
      else if (s.state === 'ready') node.status({ fill: 'green', shape: s.clients ? 'dot' : 'ring', text: RED._('clawflow-webchat-out.status.clients', { count: s.clients }) });
      else node.status({});
    });

    node.on('input', (msg: any, _send: unknown, done: (err?: Error) => void) => {
      (async () => {
        if (!cfg) throw new Error(RED._('clawflow-webchat-out.errors.no-config'));
        const chat = requireEnvelope(msg.chat);
        if (chat.channel !== 'webchat') {
          throw new Error(RED._('clawflow-webchat-out.errors.not-webchat', { channel: chat.channel }));
        }
        if (chat.account !== cfg.id) {
          throw new Error(RED._('clawflow-webchat-out.errors.other-chat', { account: chat.account, name: cfg.name || cfg.id }));
        }
        await cfg.deliver(chat.chatId, updateFromMsg(msg));
      })().then(
        () => done(),
        (err) => done(err as Error),
      );
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      unsubscribe?.();
      done();
    });
  }
  RED.nodes.registerType('clawflow-webchat-out', WebchatOutNode as any);
};
