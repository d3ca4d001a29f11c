/**
 * `clawflow-discord-out`: sends `msg.payload` to the Discord chat named by `msg.chat`. Long
 * text is split under 2000 characters; streamed partials (`msg.stream`) show "typing" and then
 * one message edited in place. Discord's rate limits are waited out by discord.js's REST queue
 * (the bot status says so while they bite). A failed send goes to `done(err)` for Catch nodes.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { classifyError, DiscordOutbound, type DiscordBotHandle, type DiscordBotUser } from '../src/channels/discord';
import { requireEnvelope, type ChatEnvelope, type StreamInfo } from '../src/envelope';
import { draftJournalFor } from './shared/draft-journal';

interface DiscordOutDef extends NodeDef {
  bot: string;
  /** Reply-reference the user's message in guild channels (default true). */
  replyInGuilds?: boolean;
}

const TYPE = 'clawflow-discord-out';
/** Minimum ms between two edits of a streamed draft: Discord allows ~5 edits per 5 s per channel. */
const EDIT_INTERVAL_MS = 1200;
/** How long a reply waits for a bot that is still logging in (READY) before it is an error. */
const READY_WAIT_MS = 30_000;

export = function (RED: NodeAPI) {
  const t = (key: string, subs?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, subs as any);

  function DiscordOutNode(this: Node, config: DiscordOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const bot = RED.nodes.getNode(config.bot) as (Node & DiscordBotHandle) | null;
    const warnDraft = (err: unknown) => node.warn(t('errors.draft', { error: bot ? bot.describe(classifyError(err)) : String(err) }));
    const out = new DiscordOutbound({
      replyInGuilds: config.replyInGuilds !== false,
      editIntervalMs: EDIT_INTERVAL_MS,
      onBackgroundError: warnDraft,
      journal: draftJournalFor(RED, node, warnDraft),
    });
    let showsFailure = false;
    /** Aborted on close: ends replies that wait for READY. */
    const closing = new AbortController();
    const user: DiscordBotUser = {
      id: node.id,
      status: (s) => {
        showsFailure = false;
        node.status(s);
      },
    };
    if (bot && typeof bot.register === 'function') bot.register(user);
    else node.status({ fill: 'red', shape: 'ring', text: t('status.noBot') });

    node.on('input', (msg: any, _send: unknown, done: (err?: Error) => void) => {
      let chat;
      try {
        if (!bot || typeof bot.register !== 'function') throw new Error(t('errors.noBot'));
        chat = requireEnvelope(msg.chat);
        if (chat.channel !== 'discord') throw new Error(t('errors.notDiscord', { channel: chat.channel }));
      } catch (err) {
        done(err as Error);
        return;
      }
      const stream: StreamInfo | undefined = msg.stream && typeof msg.stream === 'object' && typeof msg.stream.id === 'string' ? msg.stream : undefined;
      const connection = bot.connection;
      if (!connection.discord || !connection.status.botId) {
        // A partial is only a preview (typing, a draft): skip it quietly, e.g. the first empty
        // partial of a turn that outlived a redeploy, before the new client is READY.
        if (stream && stream.done === false) {
          done();
          return;
        }
        const notConnected = () => new Error(t('errors.notConnected', { state: bot.statusObject().text }));
        const state = connection.status.state;
        if (state !== 'connecting' && state !== 'reconnecting') {
          done(notConnected());
          return;
        }
        // The final reply must not be lost: a turn resumed right after a restart can finish
        // before Discord said READY. Wait for it (bounded; the node's close ends the wait).
        connection.whenReady(READY_WAIT_MS, closing.signal).then(
          () => reply(msg, chat, stream, done),
          () => done(notConnected()),
        );
        return;
      }
      reply(msg, chat, stream, done);
    });

    /** Send `msg` to `chat` with the ready client. */
    function reply(msg: any, chat: ChatEnvelope, stream: StreamInfo | undefined, done: (err?: Error) => void): void {
      const status = bot!.connection.status;
      const client = bot!.connection.discord!;
      if (chat.account && chat.account !== status.botId) {
        done(new Error(t('errors.otherBot', { account: chat.account, bot: status.botName })));
        return;
      }
      const payload = msg.payload;
      if (payload !== undefined && payload !== null && typeof payload === 'object') {
        done(new Error(t('errors.payload', { type: Array.isArray(payload) ? 'array' : 'object' })));
        return;
      }
      const text = payload === undefined || payload === null ? '' : String(payload);
      if (!stream && !text.trim()) {
        done(new Error(t('errors.empty')));
        return;
      }
      out.deliver(client.rest, chat, text, stream).then(
        () => {
          // A red "send failed" is this node's own; the bot's status only changes with the bot,
          // so after a reply that went out again, show the bot's state here once more.
          if (showsFailure) {
            showsFailure = false;
            node.status(bot!.statusObject());
          }
          done();
        },
        (err: unknown) => {
          const failure = classifyError(err);
          showsFailure = true;
          node.status({ fill: 'red', shape: 'ring', text: t(`status.failed`, { kind: failure.kind }) });
          done(new Error(bot!.describe(failure)));
        },
      );
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      closing.abort();
      // Unfinished drafts go: the interrupted turn is answered afresh after the redeploy.
      void out.abandon().then(() => {
        bot?.deregister?.(user);
        done();
      });
    });
  }

  RED.nodes.registerType(TYPE, DiscordOutNode);
};
