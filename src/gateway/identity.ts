/**
 * Identity links (opt-in): several platform identities of one person (`telegram:123`,
 * `discord:456`) share one direct-message session. Off unless the sessions config lists links;
 * platforms' user ids are unrelated, so only the operator can say two of them are one person.
 */
import type { ChatEnvelope } from '../envelope';

/** `channel:senderId` -> person name. */
export type IdentityLinks = Map<string, string>;

/** One row of the config table: a person and their identities, comma or space separated. */
export interface IdentityRow {
  person: string;
  ids: string;
}

/**
 * Parse the config table. Throws with the offending row for an identity without `channel:`
 * or one listed for two people (the session would depend on row order).
 */
export function parseIdentityLinks(rows: IdentityRow[] | undefined): IdentityLinks {
  const links: IdentityLinks = new Map();
  for (const [i, row] of (rows ?? []).entries()) {
    const person = String(row?.person ?? '').trim();
    const ids = String(row?.ids ?? '')
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (!person && !ids.length) continue;
    if (!person) throw new Error(`identity link row ${i + 1} has identities but no person name`);
    for (const id of ids) {
      if (!/^[A-Za-z0-9_.-]+:.+$/.test(id)) {
        throw new Error(`identity "${id}" of ${person} must look like channel:userId (e.g. telegram:123)`);
      }
      const other = links.get(id);
      if (other && other !== person) throw new Error(`identity "${id}" is linked to both ${other} and ${person}`);
      links.set(id, person);
    }
  }
  return links;
}

/** The person `chat`'s sender is linked to, or undefined. */
export function linkedPerson(chat: Pick<ChatEnvelope, 'channel' | 'senderId'>, links: IdentityLinks | undefined): string | undefined {
  if (!links?.size) return undefined;
  return links.get(`${chat.channel}:${chat.senderId}`);
}
