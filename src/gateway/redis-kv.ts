/**
 * A {@link KeyValueStore} namespace as one Redis hash (values as JSON), so data such as
 * pairing approvals is shared by every instance on the same Redis: an approval given on one
 * instance holds on all of them at once. It shares the session store's connection.
 */
import type { Redis } from 'ioredis';
import type { KeyValueStore } from '../store/kv';

export class RedisKeyValueStore implements KeyValueStore {
  /**
   * @param hashKey the Redis key of the hash (`<prefix>kv:<namespace>`)
   * @param wrap turns a client error into the error callers see (unreachable vs. bad reply)
   */
  constructor(
    private readonly client: Redis,
    readonly hashKey: string,
    private readonly wrap: (err: unknown) => Error = (e) => e as Error,
  ) {}

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const v = await this.guard(this.client.hget(this.hashKey, key));
    return v === null ? undefined : (JSON.parse(v) as T);
  }

  async set(key: string, value: unknown): Promise<void> {
    if (value === undefined) throw new TypeError(`cannot store undefined under "${key}": use delete`);
    await this.guard(this.client.hset(this.hashKey, key, JSON.stringify(value)));
  }

  async delete(key: string): Promise<void> {
    await this.guard(this.client.hdel(this.hashKey, key));
  }

  async keys(prefix = ''): Promise<string[]> {
    const all = await this.guard(this.client.hkeys(this.hashKey));
    return all.filter((k) => k.startsWith(prefix));
  }

  /** SET NX with a lease: the claim is a string key of its own, since hash fields cannot expire. */
  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const ok = await this.guard(this.client.set(`${this.hashKey}:once:${key}`, '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX'));
    return ok === 'OK';
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw this.wrap(err);
    }
  }
}
