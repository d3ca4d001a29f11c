/**
 * The output ports of the llm node, computed the same way in the runtime (here) and in the
 * editor (nodes/llm.html mirrors it, test/nodes/llm-ports.test.ts checks both agree):
 * 1 reply, 2 error, then an approval port if any tool needs approval (a port tool, or an
 * allowed MCP tool marked "needs approval", docs/decisions/0200), then one port per tool in the
 * order they are listed, then the MCP audit port when that option is on. The audit port is last
 * so that switching it on or off never moves another port (docs/decisions/0100).
 */

/** A tool as configured in the llm node's editor. */
export interface ToolConfig {
  name: string;
  description?: string;
  /** JSON Schema of the arguments, as an object or JSON text. */
  schema?: unknown;
  approval?: boolean;
  /** Seconds; empty = the node's tool timeout. */
  timeout?: string | number;
}

export interface NormalisedTool {
  name: string;
  description?: string;
  schema: Record<string, unknown>;
  approval: boolean;
  timeoutMs?: number;
}

/** Node options that add ports besides the tools. */
export interface PortOptions {
  /** Add the "MCP audit" port (a copy of every MCP tool call and its result). */
  mcpAudit?: boolean;
  /** The MCP allowlist (`tool` or `server/tool`). */
  mcpTools?: string[];
  /** MCP tools held for approval; only entries that are also allowed count (see {@link mcpApprovalNames}). */
  mcpApproval?: string[];
}

export interface PortLayout {
  outputs: number;
  approvalPort?: number;
  /** 0-based index of the MCP audit port, when the option is on. */
  auditPort?: number;
  tools: NormalisedTool[];
  /** Problems with the tool list (bad names, duplicates, unparsable schemas). */
  errors: string[];
  /** The MCP "needs approval" entries that are allowed, so they can be held (the approval port exists for them). */
  mcpApproval: string[];
  toolPort(name: string): number;
}

export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Work out ports and normalised tools from the node's tool list. */
export function portLayout(tools: ToolConfig[], opts: PortOptions = {}): PortLayout {
  const errors: string[] = [];
  const norm: NormalisedTool[] = [];
  const seen = new Set<string>();
  for (const tc of Array.isArray(tools) ? tools : []) {
    const name = String(tc?.name ?? '');
    if (!TOOL_NAME.test(name)) errors.push(`tool name "${name}" must be 1-64 letters, digits, _ or -`);
    if (seen.has(name)) errors.push(`tool name "${name}" is used twice`);
    seen.add(name);
    let schema: unknown = tc?.schema;
    if (typeof schema === 'string') {
      const text = schema.trim();
      try {
        schema = text ? JSON.parse(text) : { type: 'object', properties: {} };
      } catch (err) {
        errors.push(`tool "${name}": the arguments schema is not valid JSON (${(err as Error).message})`);
        schema = { type: 'object' };
      }
    }
    if (schema === undefined || schema === null) schema = { type: 'object', properties: {} };
    const timeout = Number(tc?.timeout);
    norm.push({
      name,
      description: tc?.description ? String(tc.description) : undefined,
      schema: schema as Record<string, unknown>,
      approval: !!tc?.approval,
      timeoutMs: tc?.timeout !== '' && tc?.timeout !== undefined && Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : undefined,
    });
  }
  const mcpApproval = mcpApprovalNames(opts.mcpTools ?? [], opts.mcpApproval ?? []);
  const approvalPort = norm.some((t) => t.approval) || mcpApproval.length ? 2 : undefined;
  const first = approvalPort === undefined ? 2 : 3;
  const index = new Map(norm.map((t, i) => [t.name, first + i]));
  const auditPort = opts.mcpAudit ? first + norm.length : undefined;
  return {
    outputs: first + norm.length + (auditPort === undefined ? 0 : 1),
    approvalPort,
    auditPort,
    tools: norm,
    errors,
    mcpApproval,
    toolPort: (name) => index.get(name) ?? -1,
  };
}

/** The tool part of an MCP allowlist entry: `search` for both `search` and `<server>/search`. */
const toolPart = (entry: string): string => entry.slice(entry.lastIndexOf('/') + 1);

/**
 * The "needs approval" entries that name an allowed MCP tool. An entry not on the allowlist
 * names a tool that is never offered, so it must not add an approval port. `calc/add` is
 * allowed by `add` (and `add` by `calc/add`): both forms may name the same tool.
 */
export function mcpApprovalNames(allow: readonly string[], approval: readonly string[]): string[] {
  const allowed = (Array.isArray(allow) ? allow : []).map((s) => String(s).trim()).filter(Boolean);
  const out: string[] = [];
  for (const raw of Array.isArray(approval) ? approval : []) {
    const e = String(raw).trim();
    if (!e || out.includes(e)) continue;
    if (allowed.some((a) => a === e || a === toolPart(e) || toolPart(a) === e)) out.push(e);
  }
  return out;
}

/** Whether an offered MCP tool (model name `tool` from server `server`) is held for approval. */
export function mcpNeedsApproval(approval: readonly string[], server: string, tool: string, originalName?: string): boolean {
  // Matched like the allowlist (selectTools): an entry by the server's own name holds it too.
  const names = originalName ? [tool, originalName] : [tool];
  return names.some((n) => approval.includes(n) || approval.includes(`${server}/${n}`));
}
