/**
 * Lists of `channel:id` entries (owners, DM allowlist, group allowlist).
 *
 * Ids are only unique within one platform (Telegram and Discord both use numbers), so every
 * entry names its channel. `channel:*` admits everyone on that channel, which lets one node
 * keep web chat open while Telegram stays on pairing.
 */

/** One parsed list; `has` answers membership for a channel and one or more candidate ids. */
export class IdList {
  private readonly exact = new Set<string>();
  private readonly wholeChannels = new Set<string>();

  constructor(readonly entries: readonly string[]) {
    for (const e of entries) {
      const i = e.indexOf(':');
      const channel = e.slice(0, i);
      const id = e.slice(i + 1);
      if (id === '*') this.wholeChannels.add(channel);
      else this.exact.add(`${channel}:${id}`);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** True if any of `ids` (e.g. chat id and group id) is listed for `channel`. */
  has(channel: string, ...ids: (string | undefined)[]): boolean {
    if (this.wholeChannels.has(channel)) return true;
    return ids.some((id) => id !== undefined && id !== '' && this.exact.has(`${channel}:${id}`));
  }
}

const ENTRY = /^[a-z0-9_-]+:\S+$/i;

/**
 * Parse a list written in the editor: entries separated by commas, spaces or new lines.
 * Throws an error naming every bad entry (and the field) so the user can fix it.
 */
export function parseIdList(text: string | readonly string[] | undefined, field: string): IdList {
  const raw = Array.isArray(text) ? text.map(String) : String(text ?? '').split(/[\s,]+/);
  const entries = raw.map((s) => s.trim()).filter(Boolean);
  const bad = entries.filter((e) => !ENTRY.test(e));
  if (bad.length) {
    throw new Error(
      `${field}: ${bad.map((b) => JSON.stringify(b)).join(', ')} must be written as channel:id (e.g. telegram:12345, discord:9876, webchat:*)`,
    );
  }
  // The channel part is a platform name, compared lower-case like envelopes carry it.
  return new IdList(entries.map((e) => {
    const i = e.indexOf(':');
    return e.slice(0, i).toLowerCase() + e.slice(i);
  }));
}
