/**
 * Sessions in process memory. For tests and for users who want nothing on disk. Reusing one
 * instance across gateways behaves like a restart of a durable store: `open` requeues turns
 * that were running.
 */
import { MemoryKeyValueStore, type KeyValueStore } from '../store/kv';
import { LogBackedStore } from './log-store';
import type { SessionLog } from './session-log';

export class MemorySessionStore extends LogBackedStore {
  readonly kind = 'memory';
  private readonly kvs = new Map<string, MemoryKeyValueStore>();

  protected async persist(): Promise<void> {
    /* nothing to write */
  }

  protected async load(): Promise<SessionLog[]> {
    return [...this.sessions.values()];
  }

  kv(namespace: string): KeyValueStore {
    let s = this.kvs.get(namespace);
    if (!s) this.kvs.set(namespace, (s = new MemoryKeyValueStore()));
    return s;
  }
}
