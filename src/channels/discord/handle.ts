/**
 * The contract between the Discord config node and the in/out nodes that use it. Lives here
 * (not in nodes/) so both sides compile against one definition without importing each other.
 */
import type { Message } from 'discord.js';
import type { DiscordConnection } from './connection';
import type { DiscordFailure } from './failures';

/** A Node-RED status object, spelled without importing Node-RED. */
export interface StatusShape {
  fill: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape: 'ring' | 'dot';
  text: string;
}

/** What a `discord in`/`discord out` node gives the config node. */
export interface DiscordBotUser {
  id: string;
  status(s: StatusShape): void;
  /** Called for every message the bot sees (in nodes). */
  onDiscordMessage?(message: Message, botId: string): void;
}

/** What `discord in`/`discord out` nodes use of the config node. */
export interface DiscordBotHandle {
  connection: DiscordConnection;
  /** Add a user: it gets the bot's status now and on every change; the first one logs in. */
  register(user: DiscordBotUser): void;
  deregister(user: DiscordBotUser): void;
  /** Status for a node showing this bot's state. */
  statusObject(): StatusShape;
  /** A failure as a sentence that names the cause and the fix (translated). */
  describe(failure: DiscordFailure): string;
}
