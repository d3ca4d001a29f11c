/** The Discord channel: connection (one discord.js client per bot), inbound envelopes, outbound replies. */
export * from './connection';
export * from './failures';
export * from './inbound';
export * from './outbound';
export * from './handle';
