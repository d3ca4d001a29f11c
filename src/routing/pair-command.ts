/**
 * The owner's chat command: `/pair list`, `/pair approve CODE`, `/pair revoke ID`.
 * Only called for senders on the owner list; anyone else's `/pair` is an ordinary message,
 * which is how "a stranger cannot approve themselves" holds.
 */
import type { PairingBook } from './pairing-book';
import type { ApprovedPeer, Notice, PendingRequest, ReplyText } from './types';

/** What the command needs from the filter: texts and the approval notice. */
export interface PairCommandContext {
  reply(key: string, params: Record<string, string | number>): ReplyText;
  approvedNotice(peer: ApprovedPeer): Notice | undefined;
  minutesLeft(req: PendingRequest, now: number): number;
}

export interface PairCommandResult {
  /** The answer to the owner, in the chat the command came from. */
  reply: ReplyText;
  /** Messages to other chats (the approved requester). */
  notices: Notice[];
}

/** Run one `/pair` command. `by` is the owner's `channel:senderId`. */
export async function runPairCommand(
  book: PairingBook,
  args: string,
  by: string,
  now: number,
  ctx: PairCommandContext,
): Promise<PairCommandResult> {
  const [sub = '', ...rest] = String(args ?? '').trim().split(/\s+/);
  const arg = rest.join(' ');
  switch (sub.toLowerCase()) {
    case 'approve': {
      if (!arg) return { reply: ctx.reply('usage', {}), notices: [] };
      const out = await book.approve(arg, by, now);
      if (!out.ok) return { reply: ctx.reply(out.why === 'expired' ? 'codeExpired' : 'codeUnknown', { code: out.code }), notices: [] };
      const notice = ctx.approvedNotice(out.peer);
      return { reply: ctx.reply('approved', { peer: peerLabel(out.peer) }), notices: notice ? [notice] : [] };
    }
    case 'revoke': {
      if (!arg) return { reply: ctx.reply('usage', {}), notices: [] };
      const out = await book.revoke(arg, now);
      const removed = [...out.approved, ...out.pending].map(peerLabel);
      return removed.length
        ? { reply: ctx.reply('revoked', { peers: removed.join(', ') }), notices: [] }
        : { reply: ctx.reply('revokeUnknown', { target: arg }), notices: [] };
    }
    case 'list': {
      const { pending, approved } = await book.list(now);
      if (!pending.length && !approved.length) return { reply: ctx.reply('listEmpty', {}), notices: [] };
      // One reply text built from per-line keys, so every language controls its own wording.
      const lines: string[] = [];
      lines.push(ctx.reply('listPending', { count: pending.length }).text);
      for (const p of pending) {
        lines.push(ctx.reply('listPendingItem', { code: p.code, peer: peerLabel(p), minutes: ctx.minutesLeft(p, now) }).text);
      }
      lines.push(ctx.reply('listApproved', { count: approved.length }).text);
      for (const a of approved) lines.push(ctx.reply('listApprovedItem', { peer: peerLabel(a) }).text);
      const text = lines.join('\n');
      return { reply: { key: 'list', params: { pending: pending.length, approved: approved.length }, text }, notices: [] };
    }
    default:
      return { reply: ctx.reply('usage', {}), notices: [] };
  }
}

/** `telegram:12345 (Ann)`: the id the owner types back, and a name to recognise. */
export function peerLabel(p: { channel: string; senderId: string; senderName?: string }): string {
  return p.senderName ? `${p.channel}:${p.senderId} (${p.senderName})` : `${p.channel}:${p.senderId}`;
}
