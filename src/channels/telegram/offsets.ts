/**
 * Where the next getUpdates offset is kept between restarts. Telegram forgets which updates
 * it delivered only when a later getUpdates confirms them; if the process stops between
 * handling an update and confirming it, the persisted offset is what keeps the restarted
 * poller from handling it again.
 */
import fs from 'fs';
import path from 'path';
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

/**
 * Move `file` aside (to `<file>.corrupt-<ms>`) when it is not valid JSON; returns the new name.
 * A broken offsets file (a disk that filled up, a hand edit) would fail every load and every
 * save, one error per batch for good, and keep no offset at all. The offsets are safe to lose:
 * Telegram keeps its own, and a re-sent update the session journaled is dropped there.
 */
export function setAsideCorruptFile(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // none yet (or unreadable: the store will say so)
  }
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    const aside = `${file}.corrupt-${Date.now()}`;
    try {
      fs.renameSync(file, aside);
      return aside;
    } catch {
      return undefined;
    }
  }
}

/** A write in flight takes milliseconds; a temp file this old was abandoned. */
const STALE_TEMP_MS = 60_000;

/**
 * Remove the temp files that atomic writes of `file` left behind when a process died between
 * writing and renaming (kill -9): `<file>.<pid>.<hex>.tmp` siblings. A temp file counts as
 * stale when its process is gone, when it is older than this process, or older than a minute;
 * a write still in flight (another bot of this process saving) is left alone. Never throws;
 * returns the names removed.
 */
export function removeStaleTempFiles(file: string, isAlive: (pid: number) => boolean = processAlive): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed; // no directory yet: nothing was ever written
  }
  const startedAt = Date.now() - process.uptime() * 1000;
  for (const name of names) {
    if (!name.startsWith(base + '.')) continue;
    const m = /^\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(base.length));
    if (!m) continue;
    const full = path.join(dir, name);
    try {
      const mtime = fs.statSync(full).mtimeMs;
      const pid = Number(m[1]);
      const stale = !isAlive(pid) || mtime < startedAt || Date.now() - mtime > STALE_TEMP_MS;
      if (!stale) continue;
      fs.unlinkSync(full);
      removed.push(name);
    } catch {
      /* gone already, or not ours to remove: leave it */
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}
