/**
 * Where a web chat keeps each peer's finished messages, so that a reload after a Node-RED
 * restart still shows the conversation. Only finished entries are kept (a partial reply is
 * worth nothing after a restart); the outbox keeps partials in memory.
 */
import path from 'path';
import { promises as fs } from 'fs';
import { appendLineDurable, readJsonLines, writeFileAtomic } from '../../store/atomic-file';
import { isValidPeerId, type WebchatEvent } from './protocol';

export interface TranscriptStore {
  /** Every stored entry of the peer, oldest first (later lines win for the same id). */
  load(peerId: string): Promise<WebchatEvent[]>;
  /** Add one finished entry. Resolves when it is durable. */
  append(peerId: string, event: WebchatEvent): Promise<void>;
  /** Replace the peer's transcript (compaction after trimming). */
  rewrite(peerId: string, events: WebchatEvent[]): Promise<void>;
}

/** Keeps nothing beyond the process: for tests, and when Node-RED has no user dir. */
export class MemoryTranscriptStore implements TranscriptStore {
  private readonly data = new Map<string, WebchatEvent[]>();
  async load(peerId: string): Promise<WebchatEvent[]> {
    return (this.data.get(peerId) ?? []).map((e) => ({ ...e }));
  }
  async append(peerId: string, event: WebchatEvent): Promise<void> {
    const list = this.data.get(peerId) ?? [];
    list.push({ ...event });
    this.data.set(peerId, list);
  }
  async rewrite(peerId: string, events: WebchatEvent[]): Promise<void> {
    this.data.set(peerId, events.map((e) => ({ ...e })));
  }
}

/**
 * One JSON-lines file per peer in `dir` (`<peerId>.jsonl`): appends are fsynced, a torn last
 * line after a crash is skipped, compaction rewrites the file atomically.
 */
export class FileTranscriptStore implements TranscriptStore {
  constructor(
    readonly dir: string,
    private readonly onTorn?: (file: string) => void,
  ) {}

  private file(peerId: string): string {
    // The peer id comes from a browser: it must never name a path outside dir.
    if (!isValidPeerId(peerId)) throw new Error(`invalid web chat peer id ${JSON.stringify(peerId)}`);
    return path.join(this.dir, `${peerId}.jsonl`);
  }

  async load(peerId: string): Promise<WebchatEvent[]> {
    const file = this.file(peerId);
    return readJsonLines<WebchatEvent>(file, () => this.onTorn?.(file));
  }

  async append(peerId: string, event: WebchatEvent): Promise<void> {
    await appendLineDurable(this.file(peerId), JSON.stringify(event));
  }

  async rewrite(peerId: string, events: WebchatEvent[]): Promise<void> {
    const file = this.file(peerId);
    if (events.length === 0) {
      await fs.rm(file, { force: true });
      return;
    }
    await writeFileAtomic(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
}
