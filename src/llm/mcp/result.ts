/**
 * Turn an MCP `CallToolResult` into the {@link ToolResult} the model reads. The model only reads
 * text, so text blocks are joined, structured content is JSON-encoded, and other blocks (images,
 * resources) are described rather than dropped silently.
 */
import type { ToolResult } from '../tool-types';

interface ContentBlock {
  type: string;
  text?: string;
  mimeType?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; text?: string; mimeType?: string };
}

/** Map a result as returned by the SDK's `client.callTool()`. */
export function toToolResult(raw: unknown): ToolResult {
  const res = (raw ?? {}) as { content?: ContentBlock[]; structuredContent?: unknown; isError?: boolean; toolResult?: unknown };
  // Servers on the 2024-10-07 protocol answer `{ toolResult }` instead of content blocks.
  if (!Array.isArray(res.content) && res.toolResult !== undefined) {
    return { content: typeof res.toolResult === 'string' ? res.toolResult : JSON.stringify(res.toolResult), structured: res.toolResult };
  }
  const parts: string[] = [];
  for (const block of res.content ?? []) {
    switch (block.type) {
      case 'text':
        parts.push(block.text ?? '');
        break;
      case 'resource':
        parts.push(block.resource?.text ?? `[resource ${block.resource?.uri ?? ''}]`);
        break;
      case 'resource_link':
        parts.push(`[resource link ${block.name ?? ''} ${block.uri ?? ''}]`.replace(/\s+\]/, ']'));
        break;
      default:
        parts.push(`[${block.type}${block.mimeType ? ` ${block.mimeType}` : ''} content not shown]`);
    }
  }
  const out: ToolResult = { content: parts.join('\n') };
  if (res.structuredContent !== undefined) {
    out.structured = res.structuredContent;
    const json = JSON.stringify(res.structuredContent);
    // Spec: a tool with structured output SHOULD also return it as text; do not repeat it then.
    if (!parts.includes(json)) out.content = out.content ? `${out.content}\n${json}` : json;
  }
  if (res.isError) out.isError = true;
  return out;
}

/** An error the model should read as the tool's answer (the turn goes on). */
export function errorResult(message: string): ToolResult {
  return { content: message, isError: true };
}
