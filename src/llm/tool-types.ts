/**
 * The tool contract of the LLM layer.
 *
 * A tool the model may call is described by a {@link ToolDefinition} (what the provider sees).
 * Where it runs is up to its owner: the llm node's own tools leave on an output port and come
 * back through a tool-result node; an {@link InProcessTool} (an MCP server's tool) runs right
 * here. Either way the model gets a {@link ToolResult}; an error is a result with
 * `isError: true`, never an exception that ends the turn.
 */

export interface ToolDefinition {
  /** `^[a-zA-Z0-9_-]{1,64}$`, unique within one llm node. */
  name: string;
  description: string;
  /** JSON Schema (an object schema) for the arguments. */
  inputSchema: Record<string, unknown>;
}

export interface ToolResult {
  /** Text the model reads. Structured results are JSON-encoded here too. */
  content: string;
  isError?: boolean;
  /** Optional structured copy (e.g. MCP structuredContent), for auditing outputs. */
  structured?: unknown;
}

export interface ToolRunOptions {
  signal: AbortSignal;
  /** The call must settle within this many ms; the runner enforces it too. */
  timeoutMs: number;
}

/** A tool that runs in-process (an MCP server's tool). */
export interface InProcessTool extends ToolDefinition {
  /** Where it comes from, for status and audit: e.g. `mcp:weather-server`. */
  source: string;
  /** The tool's own name on its server when `name` differs (characters a model may not see were replaced). */
  originalName?: string;
  run(args: Record<string, unknown>, opts: ToolRunOptions): Promise<ToolResult>;
}

/** Something that supplies in-process tools (one MCP server connection). */
export interface ToolSource {
  readonly name: string;
  /** The tools available now (may change when the server reconnects). */
  listTools(): InProcessTool[];
}
