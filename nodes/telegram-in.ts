/**
 * clawflow-telegram-in: Telegram messages out as `msg.payload` (text) + `msg.chat` (envelope).
 * Thin: the config node's client does the polling and the adapting; this node filters (bots,
 * edits) and sends.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { InboundEvent } from '../src/channels/telegram';
import type { TelegramBotConfig } from '../src/channels/telegram/config-contract';
import { cancelHandoff, expectHandoff, HANDOFF_PROP, newHandoffId } from '../src/handoff';
import { sessionNodeExpected } from './shared/session-deployed';

/** Default bound on waiting for a session node to take a message (decision 0160). */
const HANDOFF_TIMEOUT_MS = 2000;

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
    const tuning = (RED.settings as unknown as { clawflowTelegram?: { handoffTimeoutMs?: number } }).clawflowTelegram;
    const handoffMs = Number.isFinite(tuning?.handoffTimeoutMs) ? Number(tuning!.handoffTimeoutMs) : HANDOFF_TIMEOUT_MS;
    /** Hand-offs this node waits for: cancelled on close so Telegram delivers them again. */
    const pending = new Set<string>();
    if (!bot) {
      node.status({ fill: 'red', shape: 'dot', text: RED._('clawflow-telegram-in.status.noBot') });
      node.error(RED._('clawflow-telegram-in.errors.noBot'));
      return;
    }
    // The poller confirms an update to Telegram only once the promise returned here settles:
    // when a session node journaled (or answered) the message, or after the bound.
    const onInbound = (ev: InboundEvent): void | Promise<boolean> => {
      const chat = ev.envelope;
      if (chat.senderIsBot && !config.acceptBots) return;
      if (chat.edited && !acceptEdits) return;
      const msg: Record<string, unknown> = { payload: chat.text, chat, telegram: { update: ev.update } };
      // No session node deployed: nothing would ever hand off, so do not wait for it.
      if (handoffMs <= 0 || !sessionNodeExpected(RED)) return void node.send(msg as never);
      const id = newHandoffId();
      pending.add(id);
      const outcome = expectHandoff(id, handoffMs);
      msg[HANDOFF_PROP] = id;
      node.send(msg as never);
      return outcome.then((o) => {
        pending.delete(id);
        return o !== 'cancelled';
      });
    };
    bot.register(node as never, onInbound);
    node.on('close', (_removed: boolean, done: () => void) => {
      bot.deregister(node as never);
      // Messages still on their way were not taken: Telegram delivers them to the next deploy.
      for (const id of [...pending]) cancelHandoff(id);
      pending.clear();
      done();
    });
  }
  RED.nodes.registerType('clawflow-telegram-in', TelegramIn);
};
