/**
 * A small async key-value store, the common ground of everything that must persist outside a
 * session transcript (pairing approvals, channel offsets, budgets). Async and keyed so a Redis
 * implementation can stand in for the file one without changing callers.
 */
import path from 'path';
import { readJsonFile, writeJsonFileAtomic } from './atomic-file';

export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix` ('' for all). */
  keys(prefix?: string): Promise<string[]>;
  /**
   * True for the first caller of `key` within `ttlMs`, false for every later one, across all
   * instances sharing the store. Only stores shared by several processes (Redis) have it: in one
   * process nothing is handled twice, so callers treat its absence as "first".
   */
  claimOnce?(key: string, ttlMs: number): Promise<boolean>;
  close?(): Promise<void>;
}

/** In memory; for tests and for users who choose to keep nothing. */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly data = new Map<string, string>();
  async get<T>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async set(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.stringify(value));
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async keys(prefix = ''): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix));
  }
}

/**
 * One JSON file per namespace, rewritten atomically on every change (writes are serialised).
 * Fine for the small, rarely-changing data it is meant for; not for transcripts.
 */
export class FileKeyValueStore implements KeyValueStore {
  private cache: Record<string, unknown> | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** `<dir>/<namespace>.json`, namespace sanitised to a safe file name. */
  static inDir(dir: string, namespace: string): FileKeyValueStore {
    return new FileKeyValueStore(path.join(dir, `${namespace.replace(/[^a-zA-Z0-9._-]/g, '_')}.json`));
  }

  private async load(): Promise<Record<string, unknown>> {
    if (!this.cache) this.cache = await readJsonFile<Record<string, unknown>>(this.file, {});
    return this.cache;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.serial(async () => (await this.load())[key] as T | undefined);
  }
  set(key: string, value: unknown): Promise<void> {
    return this.serial(async () => {
      const data = await this.load();
      data[key] = value;
      await writeJsonFileAtomic(this.file, data);
    });
  }
  delete(key: string): Promise<void> {
    return this.serial(async () => {
      const data = await this.load();
      if (!(key in data)) return;
      delete data[key];
      await writeJsonFileAtomic(this.file, data);
    });
  }
  keys(prefix = ''): Promise<string[]> {
    return this.serial(async () => Object.keys(await this.load()).filter((k) => k.startsWith(prefix)));
  }
}
