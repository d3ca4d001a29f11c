/**
 * From the config node's saved form (rows of name/value, some marked secret) to a transport
 * config. Secret values never live in the flow: a secret row names a credential slot
 * (`secret0` … `secret11`) and its value comes from Node-RED credentials. One slot per secret,
 * rather than one JSON blob, so that each password field keeps Node-RED's "unchanged" handling
 * and editing one secret does not require retyping the others.
 */

/** How many secret values (env + headers together) one MCP server config can hold. */
export const SECRET_SLOTS = 12;

/** One env or header row as the editor saves it. */
export interface KeyValueRow {
  name: string;
  /** The plain value (empty for a secret row). */
  value?: string;
  secret?: boolean;
  /** Credential slot index for a secret row. */
  slot?: number;
}

export interface McpServerForm {
  transport?: string;
  command?: string;
  args?: unknown;
  cwd?: string;
  env?: KeyValueRow[];
  url?: string;
  headers?: KeyValueRow[];
}

/** The transport config (raw, validated later by the connection) and the secrets to redact. */
export interface ResolvedServerSettings {
  transport: Record<string, unknown>;
  secrets: string[];
}

function resolveRows(rows: unknown, creds: Record<string, unknown>, secrets: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(rows)) return out;
  for (const row of rows as KeyValueRow[]) {
    const name = typeof row?.name === 'string' ? row.name.trim() : '';
    if (!name) continue;
    if (row.secret) {
      const slot = Number(row.slot);
      const v = Number.isInteger(slot) && slot >= 0 && slot < SECRET_SLOTS ? creds[`secret${slot}`] : undefined;
      const value = typeof v === 'string' ? v : '';
      if (value) secrets.push(value);
      // `Bearer <token>`: a server that refuses it often echoes only the token ("unknown token
      // <token>"), which the whole value would not match.
      const scheme = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value.trim());
      if (scheme && scheme[1].length >= 4) secrets.push(scheme[1]);
      out[name] = value;
    } else {
      out[name] = row.value === undefined || row.value === null ? '' : String(row.value);
    }
  }
  return out;
}

/** Map the saved form and its credentials to what {@link McpConnection} takes. */
export function resolveServerSettings(form: McpServerForm, credentials: Record<string, unknown> | undefined): ResolvedServerSettings {
  const creds = credentials ?? {};
  const secrets: string[] = [];
  if (form.transport === 'http') {
    return { transport: { transport: 'http', url: form.url, headers: resolveRows(form.headers, creds, secrets) }, secrets };
  }
  return {
    transport: { transport: form.transport, command: form.command, args: form.args, cwd: form.cwd, env: resolveRows(form.env, creds, secrets) },
    secrets,
  };
}

/**
 * A server's label (status, logs, `mcp:<label>` on msg): its name, else the command, else for
 * HTTP the URL without user info, query or fragment, where services put keys
 * (`https://u:key@host/mcp?api_key=...`).
 */
export function serverLabel(form: McpServerForm & { name?: string }): string | undefined {
  if (form.name) return form.name;
  if (form.transport !== 'http') return form.command;
  if (!form.url) return form.url;
  try {
    const u = new URL(form.url);
    return `${u.host}${u.pathname}`;
  } catch {
    return form.url.replace(/[?#].*$/, '').replace(/\/\/[^/@]*@/, '//');
  }
}
