/**
 * clawflow-telegram-in: Telegram messages out as `msg.payload` (text) + `msg.chat` (envelope).
 * Thin: the config node's client does the polling and the adapting; this node filters (bots,
 * edits) and sends.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { InboundEvent } from '../src/channels/telegram';
import type { TelegramBotConfig } from '../src/channels/telegram/config-contract';

interface TelegramInDef extends NodeDef {
  bot: string;
  /** Pass messages sent by other bots (default off: bots talking to bots loop). */
  acceptBots?: boolean;
  /** Pass edited messages (flagged `msg.chat.edited`). Default on. */
  acceptEdits?: boolean;
}

export = function (RED: NodeAPI) {
  function TelegramIn(this: Node, config: TelegramInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const bot = RED.nodes.getNode(config.bot) as unknown as TelegramBotConfig | null;
    const acceptEdits = config.acceptEdits !== false;
    if (!bot) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('clawflow-telegram-in.status.noBot') });
      node.error(RED._('clawflow-telegram-in.errors.noBot'));
      return;
    }
    const onInbound = (ev: InboundEvent) => {
      const chat = ev.envelope;
      if (chat.senderIsBot && !config.acceptBots) return;
      if (chat.edited && !acceptEdits) return;
      node.send({ payload: chat.text, chat, telegram: { update: ev.update } } as never);
    };
    bot.register(node as never, onInbound);
    node.on('close', (_removed: boolean, done: () => void) => {
      bot.deregister(node as never);
      done();
    });
  }
  RED.nodes.registerType('clawflow-telegram-in', TelegramIn);
};
