/**
 * One client per bot token in this process. Two pollers on one token make Telegram answer
 * 409 to both, forever; two webhooks overwrite each other. So a second config node with the
 * same token is refused with an error that names the node that already owns it.
 */
import crypto from 'crypto';

const owners = new Map<string, string>();

/** Tokens are never kept in the clear, not even as map keys. */
function keyOf(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export class DuplicateTokenError extends Error {
  constructor(readonly owner: string) {
    super(`this bot token is already used by config node ${owner}; use that node (one client per token)`);
    this.name = 'DuplicateTokenError';
  }
}

/** Take `token` for `owner` (a readable node name); returns the release function. */
export function claimToken(token: string, owner: string): () => void {
  const key = keyOf(token);
  const current = owners.get(key);
  if (current !== undefined) throw new DuplicateTokenError(current);
  owners.set(key, owner);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (owners.get(key) === owner) owners.delete(key);
  };
}

/** How many tokens are held (tests check that close releases them). */
export function claimedTokens(): number {
  return owners.size;
}
