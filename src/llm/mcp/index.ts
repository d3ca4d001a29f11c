/**
 * MCP servers as tool sources for the llm node: one {@link McpConnection} per server (stdio child
 * process or Streamable HTTP), exposed as a {@link ToolSource}, filtered by an allowlist.
 */
export { McpConnection, McpAuthError } from './connection';
export type { McpState, McpToolInfo, McpCallRecord, McpConnectionOptions, McpCallOptions } from './connection';
export { toolSource, selectTools } from './tool-source';
export type { ToolSelection } from './tool-source';
export { validateTransportConfig, parseArgs, McpConfigError } from './config';
export type { McpTransportConfig, McpStdioConfig, McpHttpConfig } from './config';
export { toToolResult, errorResult } from './result';
export { Backoff } from './backoff';
export type { BackoffOptions } from './backoff';
export { redact } from './redact';
export { resolveServerSettings, serverLabel, SECRET_SLOTS } from './settings';
export type { KeyValueRow, McpServerForm, ResolvedServerSettings } from './settings';
export { isMcpServerHandle } from './handle';
export type { McpServerHandle, StatusTarget } from './handle';
