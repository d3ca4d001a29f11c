/** Shared bits of the Discord engine tests: a started connection against a fake Discord. */
import type { Message } from 'discord.js';
import { DiscordConnection, type DiscordStatus } from '../../../../src/channels/discord/connection';
import { FakeDiscord } from '../../../fakes/discord-fake';

/** Resolve with the first status for which `match` holds (checks the current one first). */
export function statusWhere(conn: DiscordConnection, match: (s: DiscordStatus) => boolean, ms = 8000): Promise<DiscordStatus> {
  if (match(conn.status)) return Promise.resolve(conn.status);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.off('status', on);
      reject(new Error(`status never matched; last ${JSON.stringify(conn.status)}`));
    }, ms);
    const on = (s: DiscordStatus) => {
      if (!match(s)) return;
      clearTimeout(timer);
      conn.off('status', on);
      resolve(s);
    };
    conn.on('status', on);
  });
}

/** Collects the messages a connection emits; `next()` gives the oldest one not taken yet. */
export class Inbox {
  readonly all: Message[] = [];
  private unread: Message[] = [];
  private waiters: ((m: Message) => void)[] = [];
  constructor(conn: DiscordConnection) {
    conn.on('message', (m: Message) => {
      this.all.push(m);
      const w = this.waiters.shift();
      if (w) w(m);
      else this.unread.push(m);
    });
  }
  next(ms = 5000): Promise<Message> {
    const ready = this.unread.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const waiter = (m: Message) => {
        clearTimeout(t);
        resolve(m);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error('no message arrived'));
      }, ms);
      this.waiters.push(waiter);
    });
  }
}

export async function readyConnection(fake: FakeDiscord): Promise<{ conn: DiscordConnection; inbox: Inbox }> {
  const conn = new DiscordConnection({ token: fake.token, apiUrl: fake.apiUrl });
  const inbox = new Inbox(conn);
  conn.start();
  await statusWhere(conn, (s) => s.state === 'ready');
  return { conn, inbox };
}
