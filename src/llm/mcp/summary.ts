/**
 * One line about the MCP servers an llm node uses, for its status: "all up, N tools offered" or
 * the first server that is not up. Pure, so the llm node only translates the result.
 */
import type { McpState } from './connection';

/** What {@link mcpSummary} needs of one server. */
export interface McpServerState {
  name: string;
  state: McpState;
}

export interface McpSummary {
  /** Number of servers. */
  servers: number;
  /** Allowlisted tools offered to the model now. */
  tools: number;
  /** The first server that is not ready (failed ones first: they need the user). */
  problem?: McpServerState;
  /** How many more servers are not ready. */
  more: number;
  /** Status colour: green when all are ready, red when one failed, grey when stopped, else yellow. */
  fill: 'green' | 'yellow' | 'red' | 'grey';
}

const RANK: Record<McpState, number> = { failed: 0, stopped: 1, reconnecting: 2, connecting: 3, ready: 4 };

/** Summarise `servers` (in the node's order); `tools` is the number of MCP tools offered. */
export function mcpSummary(servers: McpServerState[], tools: number): McpSummary {
  const down = servers.filter((s) => s.state !== 'ready').sort((a, b) => RANK[a.state] - RANK[b.state]);
  const problem = down[0];
  const fill = !problem ? 'green' : problem.state === 'failed' ? 'red' : problem.state === 'stopped' ? 'grey' : 'yellow';
  return { servers: servers.length, tools, problem, more: Math.max(0, down.length - 1), fill };
}
