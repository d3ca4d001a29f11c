/** The web chat channel engine: page server, socket protocol, per-peer outbox, transcripts. */
export * from './protocol';
export * from './outbox';
export * from './transcript';
export * from './access';
export * from './server';
export { PAGE_FILES, CONTENT_SECURITY_POLICY } from './static-files';
export * from './mapping';
