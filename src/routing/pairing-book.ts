/**
 * The pairing book: who asked to be let in (pending, with a code that expires) and who the
 * owner let in (approved, kept until revoked). It lives in a {@link KeyValueStore} so approvals
 * survive restarts and redeploys, and a Redis store can replace the file one.
 *
 * Every operation runs one after the other (a promise chain): "is there a pending request
 * for this peer? no -> mint a code" must not run twice in parallel for two quick messages,
 * or the stranger would get two codes.
 */
import type { KeyValueStore } from '../store/kv';
import type { ApprovedPeer, PendingRequest } from './types';
import { looksLikeCode, newPairingCode, normalizeCode } from './pairing-code';

const PENDING = 'pending:';
const APPROVED = 'approved:';

export interface PairingBookOptions {
  /** How long a code is valid, in ms. */
  codeTtlMs: number;
  /** At most this many pending requests per channel; more strangers are told to try later. */
  maxPendingPerChannel: number;
  /** Code generator; tests may pass a fixed sequence. */
  newCode?: () => string;
}

/** The outcome of a stranger's message under pairing. */
export type RequestOutcome =
  | { status: 'issued'; request: PendingRequest }
  | { status: 'pending'; request: PendingRequest }
  | { status: 'full' };

export type ApproveOutcome =
  | { ok: true; peer: ApprovedPeer; request: PendingRequest }
  | { ok: false; why: 'unknown' | 'expired'; code: string };

/** What `revoke` removed: approved peers and/or pending requests. */
export interface RevokeOutcome {
  approved: ApprovedPeer[];
  pending: PendingRequest[];
}

export interface PairingListing {
  pending: PendingRequest[];
  approved: ApprovedPeer[];
}

/** Who is asking: the parts of an envelope a pairing request needs. */
export interface Requester {
  channel: string;
  senderId: string;
  senderName?: string;
  account: string;
  chatId: string;
}

export class PairingBook {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly newCode: () => string;

  constructor(
    private readonly store: KeyValueStore,
    private readonly opts: PairingBookOptions,
  ) {
    this.newCode = opts.newCode ?? newPairingCode;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Read the store once, so a broken store file is reported at start, not on the first DM. */
  load(now: number): Promise<PairingListing> {
    return this.list(now);
  }

  /** The approved record of `channel:senderId`, if any. */
  approved(channel: string, senderId: string): Promise<ApprovedPeer | undefined> {
    return this.serial(() => this.store.get<ApprovedPeer>(`${APPROVED}${channel}:${senderId}`));
  }

  /**
   * A stranger wrote: return their live request, or mint a new code, or say the channel's
   * queue is full. Expired requests are dropped on the way.
   */
  request(who: Requester, now: number): Promise<RequestOutcome> {
    return this.serial(async () => {
      const pending = await this.livePending(now);
      const mine = pending.find((p) => p.channel === who.channel && p.senderId === who.senderId);
      if (mine) return { status: 'pending', request: mine };
      if (pending.filter((p) => p.channel === who.channel).length >= this.opts.maxPendingPerChannel) {
        return { status: 'full' };
      }
      const taken = new Set(pending.map((p) => p.code));
      let code = this.newCode();
      // A collision among a handful of live codes is astronomically rare; retry anyway.
      for (let i = 0; taken.has(code) && i < 10; i++) code = this.newCode();
      const request: PendingRequest = {
        code,
        channel: who.channel,
        senderId: who.senderId,
        ...(who.senderName ? { senderName: who.senderName } : {}),
        account: who.account,
        chatId: who.chatId,
        createdAt: now,
        expiresAt: now + this.opts.codeTtlMs,
      };
      await this.store.set(`${PENDING}${who.channel}:${who.senderId}`, request);
      return { status: 'issued', request };
    });
  }

  /** Approve the request holding `code`. Only the owner's paths call this. */
  approve(codeInput: string, approvedBy: string, now: number): Promise<ApproveOutcome> {
    const code = normalizeCode(codeInput);
    return this.serial(async () => {
      const all = await this.allPending();
      const hit = all.find((p) => p.code === code);
      if (!hit) return { ok: false, why: 'unknown', code };
      if (hit.expiresAt <= now) {
        await this.store.delete(pendingKey(hit));
        return { ok: false, why: 'expired', code };
      }
      const peer: ApprovedPeer = {
        channel: hit.channel,
        senderId: hit.senderId,
        ...(hit.senderName ? { senderName: hit.senderName } : {}),
        approvedAt: now,
        approvedBy,
        account: hit.account,
        chatId: hit.chatId,
      };
      await this.store.set(`${APPROVED}${hit.channel}:${hit.senderId}`, peer);
      await this.store.delete(pendingKey(hit));
      return { ok: true, peer, request: hit };
    });
  }

  /**
   * Remove access. `target` is a pending code, `channel:senderId`, or a bare sender id
   * (which matches on every channel). Returns what was removed (both lists empty: nothing).
   */
  revoke(target: string, now: number): Promise<RevokeOutcome> {
    const t = String(target ?? '').trim();
    return this.serial(async () => {
      const out: RevokeOutcome = { approved: [], pending: [] };
      if (!t) return out;
      const pending = await this.livePending(now);
      if (looksLikeCode(t)) {
        const code = normalizeCode(t);
        const byCode = pending.find((p) => p.code === code);
        if (byCode) {
          await this.store.delete(pendingKey(byCode));
          out.pending.push(byCode);
          return out;
        }
      }
      const wanted = t.includes(':') ? lowerChannel(t) : undefined;
      const matches = (channel: string, senderId: string) =>
        wanted !== undefined ? `${channel.toLowerCase()}:${senderId}` === wanted : senderId === t;
      for (const key of await this.store.keys(APPROVED)) {
        const peer = await this.store.get<ApprovedPeer>(key);
        if (peer && matches(peer.channel, peer.senderId)) {
          await this.store.delete(key);
          out.approved.push(peer);
        }
      }
      for (const p of pending) {
        if (matches(p.channel, p.senderId)) {
          await this.store.delete(pendingKey(p));
          out.pending.push(p);
        }
      }
      return out;
    });
  }

  /** Live pending requests (oldest first) and approved peers. Drops expired requests. */
  list(now: number): Promise<PairingListing> {
    return this.serial(async () => {
      const pending = await this.livePending(now);
      const approved: ApprovedPeer[] = [];
      for (const key of await this.store.keys(APPROVED)) {
        const peer = await this.store.get<ApprovedPeer>(key);
        if (peer) approved.push(peer);
      }
      approved.sort((a, b) => a.approvedAt - b.approvedAt);
      return { pending, approved };
    });
  }

  private async allPending(): Promise<PendingRequest[]> {
    const out: PendingRequest[] = [];
    for (const key of await this.store.keys(PENDING)) {
      const p = await this.store.get<PendingRequest>(key);
      if (p) out.push(p);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Pending requests that have not expired; expired ones are deleted from the store. */
  private async livePending(now: number): Promise<PendingRequest[]> {
    const live: PendingRequest[] = [];
    for (const p of await this.allPending()) {
      if (p.expiresAt <= now) await this.store.delete(pendingKey(p));
      else live.push(p);
    }
    return live;
  }
}

function pendingKey(p: Pick<PendingRequest, 'channel' | 'senderId'>): string {
  return `${PENDING}${p.channel}:${p.senderId}`;
}

function lowerChannel(target: string): string {
  const i = target.indexOf(':');
  return target.slice(0, i).toLowerCase() + target.slice(i);
}
