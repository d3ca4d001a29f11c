/**
 * Remove secret values from text before it reaches a status, a log or a tool result: an MCP
 * server's stderr or an HTTP error body can echo back an env value or a header it was given.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    // Very short values would blank out ordinary words; they are not worth hiding that way.
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}
