/**
 * Budget and usage counters on Redis, shared by every instance: one hash per (subject,
 * period) under `<prefix>usage:<period>|<subject>`, `HINCRBY` for adds and `HSETNX` for the
 * once-a-day flags, so two instances counting the same peer never lose an increment. Daily
 * rows expire after two days.
 */
import type { Redis } from 'ioredis';
import type { UsageDelta, UsageLedger, UsageTotals } from './budgets';

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const TWO_DAYS_S = 2 * 24 * 3600;

export class RedisUsageLedger implements UsageLedger {
  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly wrap: (err: unknown) => Error = (e) => e as Error,
  ) {}

  async add(subject: string, period: string, delta: UsageDelta): Promise<UsageTotals> {
    const k = this.key(subject, period);
    const m = this.client.multi();
    m.hincrby(k, 'messages', delta.messages ?? 0);
    m.hincrby(k, 'inputTokens', delta.inputTokens ?? 0);
    m.hincrby(k, 'outputTokens', delta.outputTokens ?? 0);
    if (DAY_RE.test(period)) m.expire(k, TWO_DAYS_S);
    const res = await this.guard(m.exec());
    const n = (i: number) => Number(res?.[i]?.[1] ?? 0);
    return { messages: n(0), inputTokens: n(1), outputTokens: n(2), tokens: n(1) + n(2) };
  }

  async get(subject: string, period: string): Promise<UsageTotals> {
    const [messages, inputTokens, outputTokens] = (await this.guard(this.client.hmget(this.key(subject, period), 'messages', 'inputTokens', 'outputTokens'))).map((v) => Number(v ?? 0));
    return { messages, inputTokens, outputTokens, tokens: inputTokens + outputTokens };
  }

  async once(subject: string, period: string, flag: string): Promise<boolean> {
    const k = this.key(subject, period);
    const set = await this.guard(this.client.hsetnx(k, `flag:${flag}`, '1'));
    if (set === 1 && DAY_RE.test(period)) await this.guard(this.client.expire(k, TWO_DAYS_S));
    return set === 1;
  }

  private key(subject: string, period: string): string {
    return `${this.prefix}usage:${period}|${subject}`;
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw this.wrap(err);
    }
  }
}
