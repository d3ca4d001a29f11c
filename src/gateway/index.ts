/**
 * The session gateway engine: per-session queues with a lock, a global concurrency limit,
 * bounded backlogs, leases with fencing tokens, history windows, and stores (memory, file;
 * Redis later) behind one interface. See {@link Gateway} to start.
 *
 * ```ts
 * const gw = new Gateway({ store: new FileSessionStore(dir), concurrency: 10 });
 * gw.on('turn', async (turn) => {
 *   const reply = await callLlm(turn.history);
 *   await gw.endTurn(turn, { reply });
 * });
 * await gw.start();
 * const r = await gw.submit(msg.chat, msg.payload); // accepted | rejected (reason) | reset
 * ```
 */
export * from './types';
export * from './store';
export * from './keys';
export * from './window';
export { Gateway, QUEUE_MODES } from './gateway';
export type { GatewayOptions, GatewayEvents, GatewayStats, QueueMode, RejectReason, SubmitResult, Turn } from './gateway';
export { MemorySessionStore } from './memory-store';
export { FileSessionStore, transcriptFileName, type FileSessionStoreOptions } from './file-store';
export { LogBackedStore } from './log-store';
export { RedisSessionStore, redactRedisUrl, type RedisSessionStoreOptions } from './redis-store';
export { RedisKeyValueStore } from './redis-kv';
export { isSharedStore, StoreUnavailableError, type SharedSessionStore, type SharedStoreSignal } from './shared-store';
export { SessionLog, sessionInfoOf, type SessionEvent } from './session-log';
export { registerGateway, unregisterGateway, findGateway } from './registry';
export type { GatewayProvider, GatewayUser } from './provider';
export * from './compaction';
export * from './budgets';
export * from './group-context';
export * from './identity';
