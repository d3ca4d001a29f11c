/**
 * MCP tool names may contain characters that model APIs refuse (`.`, `/`, spaces) or be longer
 * than 64 characters; the model sees a valid name and the call still reaches the original one.
 */
const VALID = /^[a-zA-Z0-9_-]{1,64}$/;

/** A model-safe name for `mcpName`, unique among `taken` (which it is added to). */
export function modelToolName(mcpName: string, taken: Set<string>): string {
  let base = VALID.test(mcpName) ? mcpName : mcpName.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'tool';
  let name = base;
  for (let n = 2; taken.has(name); n++) {
    const suffix = `_${n}`;
    base = base.slice(0, 64 - suffix.length);
    name = base + suffix;
  }
  taken.add(name);
  return name;
}
