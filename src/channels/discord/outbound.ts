/**
 * Replies to a Discord chat through discord.js's REST client (its queue handles rate limits).
 * Text is split under Discord's 2000-character limit by the shared splitter; streamed replies
 * become one message edited in place (the shared {@link StreamRelay}); in guilds the first part
 * carries a reply reference to the user's message.
 */
import { Routes, type REST } from 'discord.js';
import type { ChatEnvelope, StreamInfo } from '../../envelope';
import { StreamRelay, type DraftOps, type RelayResult } from '../stream-relay';
import type { KeyValueDraftJournal } from '../draft-journal';

/** Discord's message length limit, counted in code points. */
export const DISCORD_LIMIT = 2000;

export interface DiscordOutboundOptions {
  /** Reply-reference the user's message in guild chats (first part only). Default true. */
  replyInGuilds?: boolean;
  /** Minimum ms between edits of a streamed draft. */
  editIntervalMs?: number;
  typingIntervalMs?: number;
  onBackgroundError?: (err: unknown) => void;
  /** Unfinished drafts are noted here; those of a killed process are deleted on the first delivery. */
  journal?: KeyValueDraftJournal;
}

/**
 * Mentions that generated text may ping: only the person who asked. Never @everyone/@here,
 * roles or other users (a model told to "mention everyone in this list" cannot spam people),
 * and the reply reference does not ping the asker a second time.
 */
function allowedMentions(chat: ChatEnvelope): { parse: string[]; users: string[]; replied_user: boolean } {
  return { parse: [], users: /^\d{1,20}$/.test(chat.senderId) ? [chat.senderId] : [], replied_user: false };
}

export class DiscordOutbound {
  private readonly relay: StreamRelay;
  private swept = false;
  /** Ends the retrying sweep of drafts a killed run left (close, abandon). */
  private readonly sweeping = new AbortController();

  constructor(private readonly opts: DiscordOutboundOptions = {}) {
    this.relay = new StreamRelay({
      limit: DISCORD_LIMIT,
      unit: 'codepoint',
      editIntervalMs: opts.editIntervalMs ?? 1200,
      // Discord shows "typing" for ~10 s per request.
      typingIntervalMs: opts.typingIntervalMs ?? 8000,
      onBackgroundError: opts.onBackgroundError,
      journal: opts.journal,
    });
  }

  /**
   * Deliver `text` (or a streamed partial/final of it) to `chat` with `rest`.
   * Rejects with discord.js's error when the reply could not be delivered.
   */
  deliver(rest: REST, chat: ChatEnvelope, text: string, stream?: StreamInfo): Promise<RelayResult> {
    if (!this.swept && this.opts.journal) {
      // The first delivery is the first moment a logged-in REST client is at hand.
      this.swept = true;
      void this.sweepDrafts(rest, this.opts.journal);
    }
    return this.relay.handle(this.ops(rest, chat), text, stream);
  }

  /** Show "typing…" in `chat` once (Discord clears it after ~10 s or on the next message). */
  async typing(rest: REST, chat: ChatEnvelope): Promise<void> {
    await rest.post(Routes.channelTyping(chat.chatId));
  }

  get activeStreams(): number {
    return this.relay.activeStreams;
  }

  /** Stop every timer (typing, draft edits). */
  close(): void {
    this.sweeping.abort();
    this.relay.close();
  }

  /** Delete unfinished drafts (best effort, bounded), then close. See StreamRelay.abandon. */
  async abandon(timeoutMs?: number): Promise<number> {
    this.sweeping.abort();
    const removed = await this.relay.abandon(timeoutMs);
    // The journal's last writes end before the node does (none lands after a redeploy).
    await this.opts.journal?.idle();
    return removed;
  }

  /**
   * Delete the drafts a killed process left unfinished, trying again while Discord is
   * unreachable. Discord refusing the delete (the message is gone: 404, or not ours to
   * delete: 403) is final.
   */
  sweepDrafts(rest: REST, journal: KeyValueDraftJournal): Promise<void> {
    return journal.sweepUntilClean(
      async (channelId, messageId) => {
        await rest.delete(Routes.channelMessage(channelId, messageId));
      },
      (err) => {
        const status = (err as { status?: unknown }).status;
        return status === 403 || status === 404;
      },
      { signal: this.sweeping.signal },
    );
  }

  private ops(rest: REST, chat: ChatEnvelope): DraftOps {
    const channelId = chat.chatId;
    const mentions = allowedMentions(chat);
    let reference =
      (this.opts.replyInGuilds ?? true) && chat.chatType === 'group' && chat.messageId
        ? { message_id: chat.messageId, fail_if_not_exists: false }
        : undefined;
    return {
      async send(text: string): Promise<string> {
        const body: Record<string, unknown> = { content: text, allowed_mentions: mentions };
        if (reference) body.message_reference = reference;
        const res = (await rest.post(Routes.channelMessages(channelId), { body })) as { id: string };
        reference = undefined;
        return res.id;
      },
      async edit(messageId: string, text: string): Promise<void> {
        await rest.patch(Routes.channelMessage(channelId, messageId), { body: { content: text, allowed_mentions: mentions } });
      },
      async typing(): Promise<void> {
        await rest.post(Routes.channelTyping(channelId));
      },
      async remove(messageId: string): Promise<void> {
        await rest.delete(Routes.channelMessage(channelId, messageId));
      },
      chat: channelId,
    };
  }
}
