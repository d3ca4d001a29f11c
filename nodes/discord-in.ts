/**
 * `clawflow-discord-in`: every guild and DM message the bot sees, as `msg.chat` (the envelope)
 * and `msg.payload` (the text). The bot's own messages are dropped; other bots' unless allowed.
 * Mention gating is the route filter's job: this node only tells (`msg.chat.mentioned`).
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { DiscordMessage } from '../src/channels/discord';
import { toEnvelope, type DiscordBotHandle, type DiscordBotUser } from '../src/channels/discord';

interface DiscordInDef extends NodeDef {
  bot: string;
  allowBots?: boolean;
}

const TYPE = 'clawflow-discord-in';

export = function (RED: NodeAPI) {
  function DiscordInNode(this: Node, config: DiscordInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const bot = RED.nodes.getNode(config.bot) as (Node & DiscordBotHandle) | null;
    if (!bot || typeof bot.register !== 'function') {
      node.status({ fill: 'red', shape: 'ring', text: RED._(`${TYPE}.status.noBot`) });
      node.error(RED._(`${TYPE}.errors.noBot`));
      return;
    }
    const user: DiscordBotUser = {
      id: node.id,
      status: (s) => node.status(s),
      onDiscordMessage(message: DiscordMessage, botId: string) {
        const r = toEnvelope(message, botId, { allowBots: !!config.allowBots });
        if (!('envelope' in r)) {
          if (r.skipped === 'malformed') {
            const detail = RED._(`${TYPE}.warnings.problem.${r.problem}`);
            node.warn(RED._(`${TYPE}.warnings.malformed`, { event: 'MESSAGE_CREATE', detail } as any));
          }
          return;
        }
        node.send({ payload: r.envelope.text, chat: r.envelope } as any);
      },
    };
    bot.register(user);
    node.on('close', (_removed: boolean, done: () => void) => {
      bot.deregister(user);
      done();
    });
  }

  RED.nodes.registerType(TYPE, DiscordInNode);
};
