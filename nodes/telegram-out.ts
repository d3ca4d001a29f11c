/**
 * clawflow-telegram-out: replies to the chat in `msg.chat` with `msg.payload`. Long text is
 * split under Telegram's limit; a streamed reply (msg.stream) shows typing, then one message
 * edited in place, which becomes the final reply. Sending rules live in
 * src/channels/telegram/outbound.ts; this node maps msg to them.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { isPartial, requireEnvelope, type ReplyFormat, type StreamInfo } from '../src/envelope';
import { StreamRelay } from '../src/channels/stream-relay';
import { TELEGRAM_TEXT_LIMIT, type ReplyTarget } from '../src/channels/telegram';
import type { TelegramBotConfig } from '../src/channels/telegram/config-contract';
import { draftJournalFor } from './shared/draft-journal';

interface TelegramOutDef extends NodeDef {
  bot: string;
  format?: ReplyFormat;
  /** Quote the user's message in groups. Default on. */
  replyInGroups?: boolean;
  /** Minimum ms between two edits of a streamed draft. */
  editInterval?: number | string;
}

const FORMATS: ReplyFormat[] = ['plain', 'markdown', 'html'];

export = function (RED: NodeAPI) {
  function TelegramOut(this: Node, config: TelegramOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`clawflow-telegram-out.${key}`, params as never);
    const bot = RED.nodes.getNode(config.bot) as unknown as TelegramBotConfig | null;
    const defaultFormat: ReplyFormat = FORMATS.includes(config.format as ReplyFormat) ? (config.format as ReplyFormat) : 'plain';
    const replyInGroups = config.replyInGroups !== false;
    const editIntervalMs = Math.max(500, Number(config.editInterval) || 1000);
    let warnedMarkup = false;
    const warnDraft = (err: unknown) => node.warn(t('errors.draft', { reason: (err as Error).message }));
    const journal = draftJournalFor(RED, node, warnDraft);
    const relay = new StreamRelay({
      limit: TELEGRAM_TEXT_LIMIT,
      unit: 'utf16',
      editIntervalMs,
      onBackgroundError: warnDraft,
      journal,
    });

    const sweeping = new AbortController();
    const tuning = (RED.settings as unknown as { clawflowTelegram?: { draftSweepRetryMs?: number } }).clawflowTelegram;
    const sweepRetryMs = Number(tuning?.draftSweepRetryMs) > 0 ? Number(tuning!.draftSweepRetryMs) : 30_000;
    if (!bot) {
      node.status({ fill: 'red', shape: 'dot', text: t('status.noBot') });
    } else {
      bot.register(node as never);
      // Drafts a killed process left half-written go; the turns they belonged to run again.
      if (journal && bot.client) void bot.client.outbound.sweepDrafts(journal, { signal: sweeping.signal, firstWaitMs: sweepRetryMs });
    }

    node.on('input', (msg: any, send, done) => {
      void handle(msg)
        .then((out) => {
          if (out) send(out);
          done();
        })
        .catch((err: Error) => done(err));
    });

    async function handle(msg: any): Promise<any | undefined> {
      if (!bot) throw new Error(t('errors.noBot'));
      if (!bot.client) throw new Error(bot.configError ?? t('errors.noBot'));
      const chat = requireEnvelope(msg.chat);
      if (chat.channel !== 'telegram') throw new Error(t('errors.notTelegram', { channel: chat.channel }));
      const me = bot.client.identity;
      if (me && chat.account !== String(me.id)) throw new Error(t('errors.otherBot', { account: chat.account, id: me.id }));
      const format: ReplyFormat = msg.format ?? defaultFormat;
      if (!FORMATS.includes(format)) throw new Error(t('errors.format', { format: String(msg.format) }));
      const stream: StreamInfo | undefined = msg.stream && typeof msg.stream.id === 'string' ? msg.stream : undefined;
      const text = textOf(msg.payload);
      if (text === undefined) throw new Error(t('errors.payload', { type: typeof msg.payload }));
      if (!stream && !text.trim()) throw new Error(t('errors.empty'));

      const target: ReplyTarget = { chatId: chat.chatId };
      if (chat.threadId) target.threadId = chat.threadId;
      if (replyInGroups && chat.chatType === 'group' && chat.messageId) target.replyToMessageId = chat.messageId;
      const outbound = bot.client.outbound;
      // Warn once per node when Telegram rejected the markup and the plain retry went out.
      const ops = outbound.draftOps(target, format, (description) => {
        if (warnedMarkup) return;
        warnedMarkup = true;
        node.warn(t('errors.markup', { reason: description }));
      });
      const result = await relay.handle(ops, text, stream);
      if (result.partial || (stream && isPartial(msg))) return undefined;
      msg.telegram = { ...(msg.telegram ?? {}), messageIds: result.messageIds };
      return msg;
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      sweeping.abort();
      // Unfinished drafts go: the interrupted turn is answered afresh after the redeploy.
      // The journal's last writes end before the node does (none lands after a redeploy).
      void relay
        .abandon()
        .then(() => journal?.idle())
        .then(() => {
          bot?.deregister(node as never);
          done();
        });
    });
  }

  RED.nodes.registerType('clawflow-telegram-out', TelegramOut);
};

/** msg.payload as text: strings as they are, numbers/booleans printed, anything else refused. */
function textOf(payload: unknown): string | undefined {
  if (typeof payload === 'string') return payload;
  if (typeof payload === 'number' || typeof payload === 'boolean') return String(payload);
  if (payload === undefined || payload === null) return '';
  return undefined;
}
