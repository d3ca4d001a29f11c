/**
 * What telegram in/out nodes may use of their config node (clawflow-telegram-bot). Kept here,
 * free of Node-RED types, so the three node files agree on one contract.
 */
import type { TelegramClient, InboundEvent } from './client';

export interface NodeStatusLike {
  fill: 'red' | 'green' | 'yellow' | 'grey';
  shape: 'dot' | 'ring';
  text: string;
}

/** The parts of a Node-RED node the config node touches. */
export interface TelegramBotUser {
  id: string;
  status(s: NodeStatusLike): void;
  error(text: string, msg?: object): void;
  /** Set by the config node for nodes that receive updates (they report inbound problems). */
  receivesUpdates?: boolean;
}

export interface TelegramBotConfig {
  /** Absent when the configuration is unusable; then `configError` says why. */
  client?: TelegramClient;
  configError?: string;
  /** `onInbound` may return a promise: the update is confirmed to Telegram once it settles (false: deliver again). */
  register(user: TelegramBotUser, onInbound?: (ev: InboundEvent) => void | Promise<boolean>): void;
  deregister(user: TelegramBotUser): void;
  statusNow(): NodeStatusLike;
}
