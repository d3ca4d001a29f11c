/**
 * Crash-safe file primitives for the embedded (user dir) stores.
 *
 * `writeFileAtomic` writes a temp file, fsyncs it and renames it over the target, so a reader
 * (or the process after kill -9) sees either the old or the new content, never half of it.
 * `appendLineDurable` appends one line and fsyncs before resolving: a journal entry that was
 * acknowledged is on disk. `readLines` tolerates a torn last line (a crash mid-append).
 */
import { promises as fs } from 'fs';
import path from 'path';
import crypto from 'crypto';

export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

/** Read a JSON file; `fallback` if it does not exist. A corrupt file throws with its path. */
export async function readJsonFile<T>(file: string, fallback: T): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); move it aside to start fresh`);
  }
}

export async function writeJsonFileAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2));
}

/** Append one line (a newline is added) and fsync before resolving. */
export async function appendLineDurable(file: string, line: string): Promise<void> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'a');
  } catch (err) {
    // The directory is made only when it is missing: a recursive mkdir on every append was a
    // measurable share of a journal write (web chat transcripts, the file session store).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fs.mkdir(path.dirname(file), { recursive: true });
    fh = await fs.open(file, 'a');
  }
  try {
    await fh.write(line.endsWith('\n') ? line : line + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * All complete JSON lines of an append-only file. A last line cut short by a crash is
 * ignored (and reported through `onTorn`), never fatal.
 */
export async function readJsonLines<T>(file: string, onTorn?: (line: string) => void): Promise<T[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: T[] = [];
  const lines = text.split('\n');
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      onTorn?.(line);
    }
  }
  return out;
}
