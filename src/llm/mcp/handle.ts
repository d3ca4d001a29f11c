/**
 * What the `clawflow-mcp-server` config node offers to the nodes that use it (the llm node),
 * described without Node-RED types so both sides can import it from src/.
 */
import type { ToolSource } from '../tool-types';
import type { McpConnection } from './connection';

/** Anything with a Node-RED-like `status()`: a user node that shows the server's state. */
export interface StatusTarget {
  status(s: { fill?: string; shape?: string; text?: string }): void;
}

export interface McpServerHandle {
  /** The server's tools as in-process tools (all of them: the user applies its allowlist). */
  toolSource(): ToolSource;
  /** The live connection: `state`, `tools`, and `call` events (a copy of each call, for audit). */
  readonly connection: McpConnection;
  /** Show this server's state on `user`'s status from now on (call in the user's constructor). */
  register(user: StatusTarget): void;
  /** Stop showing it (call in the user's `close`). */
  deregister(user: StatusTarget): void;
}

/** True if `node` (from `RED.nodes.getNode`) is a clawflow-mcp-server config node. */
export function isMcpServerHandle(node: unknown): node is McpServerHandle {
  const n = node as Partial<McpServerHandle> | null;
  return !!n && typeof n.toolSource === 'function' && typeof n.register === 'function' && !!n.connection;
}
