/**
 * What the sessions config node offers the session, session end and route filter nodes, as a
 * plain interface (no Node-RED types), so those nodes depend on a contract, not on the file
 * of the config node.
 */
import type { KeyValueStore } from '../store/kv';
import type { Gateway, GatewayStats, Turn } from './gateway';

/** A node that uses the gateway: it gets its turns and the counters for its status. */
export interface GatewayUser {
  readonly id: string;
  /** A turn whose newest message this node accepted (or any turn nobody else can take). */
  startTurn?(turn: Turn): void;
  /** Counters changed. */
  showStats(stats: GatewayStats): void;
  /**
   * A lease expired for a turn this node started: say so where the user looks, and (with
   * `chat`, the envelope of the turn) tell the chat's user with a ready apology.
   */
  leaseExpired?(key: string, leaseMs: number, chat?: import('../envelope').ChatEnvelope, turnId?: string): void;
}

export interface GatewayProvider {
  /** The gateway, or undefined when the configuration is invalid (see `gatewayError`). */
  readonly gateway: Gateway | undefined;
  readonly gatewayError: Error | undefined;
  /**
   * The gateway once its store is open (started now if it was not yet). Rejects with the
   * configuration or store error.
   */
  whenReady(): Promise<Gateway>;
  /** A key-value namespace in the same store family as the sessions (file dir, memory, Redis). */
  kvStore(namespace: string): KeyValueStore;
  /**
   * The ready reply for a refused message, a reset or a notice (`busy`, `session_busy`,
   * `closed`, `session_reset`, `budget_exceeded`, `turn_expired`, `compacted`, `queue_mode`).
   * Empty string: the user turned that notice off.
   */
  replyText(reason: string, params?: Record<string, unknown>): string;
  register(user: GatewayUser): void;
  deregister(user: GatewayUser): void;
}
