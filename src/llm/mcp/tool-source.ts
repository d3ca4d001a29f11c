/**
 * The bridge from an MCP connection to the llm node's tool contract (src/llm/tool-types.ts):
 * a {@link ToolSource} whose tools are {@link InProcessTool}s, and the allowlist that decides
 * which of them a given llm node offers to its model.
 */
import type { InProcessTool, ToolSource } from '../tool-types';
import type { McpConnection } from './connection';

/**
 * A live view of the connection's tools: every `listTools()` reflects the tools known now (the
 * list changes after a reconnect or a `tools/list_changed` notification).
 */
export function toolSource(conn: McpConnection): ToolSource {
  const source = `mcp:${conn.name}`;
  return {
    name: conn.name,
    listTools(): InProcessTool[] {
      return conn.tools.map((t) => ({
        name: t.name,
        description: t.description,
        inputSchema: t.inputSchema,
        source,
        ...(t.mcpName !== t.name ? { originalName: t.mcpName } : {}),
        run: (args, opts) => conn.callTool(t.name, args, { signal: opts.signal, timeoutMs: opts.timeoutMs }),
      }));
    },
  };
}

/** What {@link selectTools} picked, and what it had to leave out and why. */
export interface ToolSelection {
  tools: InProcessTool[];
  /** Allowlisted names no source offers now (server down, tool renamed). */
  missing: string[];
  /** Names offered by more than one source; the first source wins. */
  duplicates: string[];
}

/**
 * Pick the allowlisted tools from several sources. Nothing is offered unless named: an empty
 * allowlist offers no tool at all, so a server that grows a new tool does not hand it to the
 * model before someone chose it.
 *
 * An entry is a tool name (`search`) or a source-qualified one (`<source name>/search`) when two
 * servers offer the same name; the server's own name of a renamed tool (`my.tool`) works too.
 */
export function selectTools(sources: ToolSource[], allowlist: readonly string[]): ToolSelection {
  const wanted = new Set(allowlist.map((s) => s.trim()).filter(Boolean));
  const tools: InProcessTool[] = [];
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const found = new Set<string>();
  for (const src of sources) {
    for (const tool of src.listTools()) {
      const qualified = `${src.name}/${tool.name}`;
      // Either name is the tool: the one the model sees, or the server's own (`my.tool`).
      const names = tool.originalName ? [qualified, tool.name, `${src.name}/${tool.originalName}`, tool.originalName] : [qualified, tool.name];
      const hit = names.find((n) => wanted.has(n)) ?? null;
      if (!hit) continue;
      found.add(hit);
      if (seen.has(tool.name)) {
        duplicates.push(qualified);
        continue;
      }
      seen.add(tool.name);
      tools.push(tool);
    }
  }
  const missing = [...wanted].filter((w) => !found.has(w));
  return { tools, missing, duplicates };
}
