/**
 * Where the next getUpdates offset is kept between restarts. Telegram forgets which updates
 * it delivered only when a later getUpdates confirms them; if the process stops between
 * handling an update and confirming it, the persisted offset is what keeps the restarted
 * poller from handling it again.
 */
import type { KeyValueStore } from '../../store/kv';

export interface OffsetStore {
  /** The first update_id not yet handled, if known. */
  load(): Promise<number | undefined>;
  save(offset: number): Promise<void>;
}

/** An {@link OffsetStore} for one bot in a key-value store (key `offset:<botId>`). */
export function offsetStoreFor(kv: KeyValueStore, botId: number | string): OffsetStore {
  const key = `offset:${botId}`;
  return {
    async load() {
      const v = await kv.get<number>(key);
      return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
    },
    save: (offset) => kv.set(key, offset),
  };
}
