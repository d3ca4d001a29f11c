/**
 * The embedded durable store: one append-only JSON-lines transcript per session under a
 * directory (by default in the Node-RED user dir). Every event is appended and fsynced before
 * the operation resolves, so an accepted message survives kill -9. On open each transcript is
 * replayed through the same fold as the memory store; a last line cut short by a crash (never
 * acknowledged) is cut off so later appends start on a clean line.
 *
 * One process writes a directory at a time (Node-RED closes the old config node before it
 * starts the new one on redeploy). Several instances need a shared store (Redis).
 */
import { promises as fs } from 'fs';
import path from 'path';
import crypto from 'crypto';
import { appendLineDurable } from '../store/atomic-file';
import { FileKeyValueStore, type KeyValueStore } from '../store/kv';
import { LogBackedStore } from './log-store';
import { SessionLog, type SessionEvent } from './session-log';
import type { HistoryEntry } from './types';

export interface FileSessionStoreOptions {
  /** History entries per session kept in memory (the full history stays on disk). Default 500. */
  keepInMemory?: number;
  /** Told about repaired or unreadable lines. */
  onWarn?: (text: string) => void;
}

/** A file name for a key: readable prefix plus a hash, so distinct keys never share a file. */
export function transcriptFileName(key: string): string {
  const safe = key.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  const hash = crypto.createHash('sha1').update(key).digest('hex').slice(0, 12);
  return `${safe}-${hash}.jsonl`;
}

export class FileSessionStore extends LogBackedStore {
  readonly kind = 'file';
  private readonly sessionsDir: string;
  private readonly kvs = new Map<string, FileKeyValueStore>();
  private readonly keep: number;

  /** `dir` holds `sessions/*.jsonl` (transcripts) and `kv/*.json` (key-value namespaces). */
  constructor(
    readonly dir: string,
    private readonly opts: FileSessionStoreOptions = {},
  ) {
    super();
    this.sessionsDir = path.join(dir, 'sessions');
    this.keep = opts.keepInMemory ?? 500;
  }

  protected override get keepInMemory(): number {
    return this.keep;
  }

  kv(namespace: string): KeyValueStore {
    let s = this.kvs.get(namespace);
    if (!s) this.kvs.set(namespace, (s = FileKeyValueStore.inDir(path.join(this.dir, 'kv'), namespace)));
    return s;
  }

  protected async persist(key: string, ev: SessionEvent): Promise<void> {
    await appendLineDurable(this.fileOf(key), JSON.stringify(ev));
  }

  protected async load(): Promise<SessionLog[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.sessionsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const logs: SessionLog[] = [];
    for (const name of names.filter((n) => n.endsWith('.jsonl')).sort()) {
      const log = await this.replay(path.join(this.sessionsDir, name), this.keep, true);
      if (log) logs.push(log);
    }
    return logs;
  }

  /** The whole history since the last reset, read from the transcript. */
  override async history(key: string): Promise<HistoryEntry[]> {
    return this.serial(key, async () => {
      if (!this.sessions.has(key)) return [];
      const log = await this.replay(this.fileOf(key), Infinity, false);
      return log ? log.history : [];
    });
  }

  private fileOf(key: string): string {
    return path.join(this.sessionsDir, transcriptFileName(key));
  }

  private async replay(file: string, keep: number, repair: boolean): Promise<SessionLog | undefined> {
    let buf = await fs.readFile(file);
    const end = buf.lastIndexOf(0x0a) + 1;
    if (end < buf.length) {
      // A torn last line: the append that wrote it never resolved, so nobody was told it happened.
      if (repair) {
        await fs.truncate(file, end);
        this.opts.onWarn?.(`${file}: cut off an incomplete last line (written during a crash)`);
      }
      buf = buf.subarray(0, end);
    }
    let log: SessionLog | undefined;
    const lines = buf.toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      let ev: SessionEvent;
      try {
        ev = JSON.parse(lines[i]) as SessionEvent;
      } catch {
        if (repair) this.opts.onWarn?.(`${file}:${i + 1}: skipped a line that is not JSON`);
        continue;
      }
      if (!log) {
        if (ev.t !== 'open') {
          if (repair) this.opts.onWarn?.(`${file}: does not start with an "open" line; ignored`);
          return undefined;
        }
        log = new SessionLog(ev.key, ev.info, ev.ts, keep);
      } else {
        log.apply(ev);
      }
    }
    return log;
  }
}
