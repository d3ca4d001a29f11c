/**
 * What an MCP server connection needs, checked once up front so that a bad config fails with a
 * message a user can act on instead of a retry loop that can never succeed.
 */

/** Launch a local server as a child process and talk over its stdin/stdout. */
export interface McpStdioConfig {
  transport: 'stdio';
  command: string;
  args: string[];
  /** Added to the SDK's safe default environment (PATH, HOME, ...), not to the whole parent env. */
  env: Record<string, string>;
  cwd?: string;
}

/** Talk to a remote server over MCP Streamable HTTP. */
export interface McpHttpConfig {
  transport: 'http';
  url: string;
  headers: Record<string, string>;
}

export type McpTransportConfig = McpStdioConfig | McpHttpConfig;

/** A configuration the user must fix: retrying cannot help. */
export class McpConfigError extends Error {
  override name = 'McpConfigError';
}

/**
 * Split a command-line argument string the way a user typing it expects: whitespace separates,
 * single or double quotes keep spaces, backslash escapes the next character. A string that is a
 * JSON array (`["-y", "pkg"]`) is taken as the array itself.
 */
export function parseArgs(input: unknown): string[] {
  if (input === undefined || input === null || input === '') return [];
  if (Array.isArray(input)) return input.map((a) => String(a));
  if (typeof input !== 'string') throw new McpConfigError('args must be a string or an array of strings');
  const trimmed = input.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new McpConfigError(`args look like a JSON array but do not parse: ${trimmed.slice(0, 60)}`);
    }
    if (!Array.isArray(parsed)) throw new McpConfigError('args JSON must be an array of strings');
    return parsed.map((a) => String(a));
  }
  const out: string[] = [];
  let cur = '';
  let inArg = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < trimmed.length; i++) {
    const ch = trimmed[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < trimmed.length) cur += trimmed[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inArg = true;
    } else if (ch === '\\' && i + 1 < trimmed.length) {
      cur += trimmed[++i];
      inArg = true;
    } else if (/\s/.test(ch)) {
      if (inArg) out.push(cur);
      cur = '';
      inArg = false;
    } else {
      cur += ch;
      inArg = true;
    }
  }
  if (quote) throw new McpConfigError(`args have an unclosed ${quote} quote`);
  if (inArg) out.push(cur);
  return out;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 7230 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function stringMap(raw: unknown, what: string, valid: RegExp): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new McpConfigError(`${what} must be an object of names to values`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!valid.test(k)) throw new McpConfigError(`${what} name "${k}" is not valid`);
    out[k] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}

/**
 * Check and normalise a transport config. Throws {@link McpConfigError} naming the field to fix.
 * Values are not logged here or in the messages: env and headers may hold secrets.
 */
export function validateTransportConfig(raw: any): McpTransportConfig {
  if (!raw || typeof raw !== 'object') throw new McpConfigError('no MCP server configuration given');
  if (raw.transport === 'stdio') {
    const command = typeof raw.command === 'string' ? raw.command.trim() : '';
    if (!command) throw new McpConfigError('stdio transport needs a command (e.g. "npx" or a path to the server)');
    const cwd = typeof raw.cwd === 'string' && raw.cwd.trim() ? raw.cwd.trim() : undefined;
    return { transport: 'stdio', command, args: parseArgs(raw.args), env: stringMap(raw.env, 'env', ENV_NAME), cwd };
  }
  if (raw.transport === 'http') {
    const url = typeof raw.url === 'string' ? raw.url.trim() : '';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new McpConfigError(`http transport needs a valid URL (got "${url.slice(0, 80)}")`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new McpConfigError(`http transport needs an http:// or https:// URL (got ${parsed.protocol})`);
    }
    if (parsed.username || parsed.password) {
      throw new McpConfigError('put credentials in a secret header, not in the URL');
    }
    return { transport: 'http', url: parsed.toString(), headers: stringMap(raw.headers, 'header', HEADER_NAME) };
  }
  throw new McpConfigError(`transport must be "stdio" or "http" (got "${String(raw.transport)}")`);
}
