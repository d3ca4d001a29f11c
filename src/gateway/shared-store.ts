/**
 * What a store shared by several gateway instances (Redis) offers beyond {@link SessionStore}.
 * A local store is the only writer, so the gateway's own counters are the truth; a shared store
 * is written by others too, so the gateway must hear from it: sessions that became runnable
 * elsewhere (a slot freed, a dead instance's lease expired), turns it lost (its lease was
 * taken over), and whether the store can be reached at all. And it must keep its turns' leases
 * alive while they run, or another instance runs them again.
 */
import type { SessionStore } from './store';

/** Hints from a shared store. None is needed for correctness of the data, only for liveness. */
export type SharedStoreSignal =
  /** These sessions (oldest first) have messages waiting and no running turn; `waiting` in all. */
  | { type: 'runnable'; keys: string[]; waiting: number }
  /** This instance's turn was taken over (its lease expired): abort it, do not finish it. */
  | { type: 'lost'; key: string; turnId: string }
  /** The store became reachable (`up`) or not (`down`, with a message fit for a status). */
  | { type: 'connection'; state: 'up' | 'down'; message?: string };

export interface SharedSessionStore extends SessionStore {
  readonly shared: true;
  /** How often the gateway renews the lease of each running turn. */
  readonly renewEveryMs: number;
  /**
   * True after a claim found every cluster-wide slot taken; false again once a slot may be free
   * (the store then signals `runnable`). The gateway stops claiming while it is true.
   */
  readonly full: boolean;
  /** Extend a running turn's lease. False: the turn is no longer this one's (fenced). */
  renew(key: string, turnId: string, fence: number): Promise<boolean>;
  /** Subscribe to hints; returns the function that unsubscribes. */
  onSignal(fn: (s: SharedStoreSignal) => void): () => void;
  /** Is the store reachable now? */
  readonly reachable: boolean;
}

/** A store operation failed because the store cannot be reached (not because of bad data). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export function isSharedStore(s: SessionStore): s is SharedSessionStore {
  return (s as Partial<SharedSessionStore>).shared === true;
}
