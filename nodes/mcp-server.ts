/**
 * `clawflow-mcp-server`: a config node that owns one MCP server connection (a stdio child
 * process or a Streamable HTTP session) and offers its tools to llm nodes. Thin: the connection
 * logic is in src/llm/mcp/. It connects on deploy (so the editor can list the tools before any
 * llm node uses it), shows its state on every registered user's status, and closes the child
 * process / session on redeploy.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import {
  McpConnection,
  resolveServerSettings,
  serverLabel,
  toolSource,
  SECRET_SLOTS,
  type McpServerHandle,
  type McpState,
  type StatusTarget,
  type KeyValueRow,
} from '../src/llm/mcp';
import type { ToolSource } from '../src/llm/tool-types';

interface McpServerDef extends NodeDef {
  transport: 'stdio' | 'http';
  command?: string;
  args?: string;
  cwd?: string;
  env?: KeyValueRow[];
  url?: string;
  headers?: KeyValueRow[];
}

type McpServerNode = Node & McpServerHandle;

const TYPE = 'clawflow-mcp-server';
/** How long the editor's tool list request waits for a connection that is still coming up. */
const LIST_WAIT_MS = 5000;

export = function (RED: NodeAPI) {
  const t = (key: string, subs?: Record<string, unknown>) => RED._(`${TYPE}.${key}`, subs as any);

  function McpServerConfigNode(this: McpServerNode, config: McpServerDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const label = serverLabel(config) || node.id;
    const settings = resolveServerSettings(config, node.credentials as Record<string, unknown>);
    const conn = new McpConnection(settings.transport, { name: label || node.id, secrets: settings.secrets });
    const source: ToolSource = toolSource(conn);
    const users = new Set<StatusTarget>();
    let lastLogged = '';

    const statusFor = (state: McpState, error: string | null) => {
      const err = error ? `: ${error.slice(0, 60)}` : '';
      switch (state) {
        case 'ready':
          return { fill: 'green', shape: 'dot', text: t('status.connected', { count: conn.tools.length }) };
        case 'connecting':
          return { fill: 'yellow', shape: 'ring', text: t('status.connecting') };
        case 'reconnecting':
          return { fill: 'yellow', shape: 'ring', text: t('status.reconnecting') + err };
        case 'failed':
          return { fill: 'red', shape: 'ring', text: t('status.failed') + err };
        default:
          return { fill: 'grey', shape: 'ring', text: t('status.stopped') };
      }
    };
    const broadcast = () => {
      const s = statusFor(conn.state, conn.error);
      for (const u of users) u.status(s);
    };

    conn.on('state', (state: McpState, error: string | null) => {
      broadcast();
      // Log each distinct problem once, not every retry.
      if ((state === 'failed' || state === 'reconnecting') && error && error !== lastLogged) {
        lastLogged = error;
        node.warn(t(state === 'failed' ? 'errors.failed' : 'errors.reconnecting', { name: label, error }));
      }
      if (state === 'ready') lastLogged = '';
    });
    conn.on('tools', broadcast);

    Object.defineProperty(node, 'connection', { value: conn, enumerable: false });
    node.toolSource = () => source;
    node.register = (user: StatusTarget) => {
      users.add(user);
      user.status(statusFor(conn.state, conn.error));
    };
    node.deregister = (user: StatusTarget) => {
      users.delete(user);
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      conn.close().then(done, (err) => {
        node.error(String(err));
        done();
      });
    });

    conn.start();
  }

  const credentials: Record<string, { type: 'password' }> = {};
  for (let i = 0; i < SECRET_SLOTS; i++) credentials[`secret${i}`] = { type: 'password' };
  RED.nodes.registerType(TYPE, McpServerConfigNode as any, { credentials } as any);

  // The editor's tool picker: the live tool list of a deployed server.
  RED.httpAdmin.get('/clawflow/mcp/:id/tools', RED.auth.needsPermission(`${TYPE}.read`), (req: any, res: any) => {
    const n = RED.nodes.getNode(req.params.id) as McpServerNode | null;
    if (!n || n.type !== TYPE || !n.connection) {
      res.status(404).json({ error: t('errors.notDeployed') });
      return;
    }
    const conn = n.connection;
    const reply = () => {
      if (res.headersSent) return;
      res.json({
        id: n.id,
        name: conn.name,
        state: conn.state,
        error: conn.error,
        tools: conn.tools.map((tool) => ({ name: tool.name, mcpName: tool.mcpName, description: tool.description, inputSchema: tool.inputSchema })),
      });
    };
    if (conn.state !== 'connecting') return reply();
    // Just deployed: give the first connection a moment rather than answer "no tools".
    const timer = setTimeout(finish, LIST_WAIT_MS);
    function onState(state: McpState) {
      if (state !== 'connecting') finish();
    }
    function finish() {
      clearTimeout(timer);
      conn.off('state', onState);
      res.off?.('close', finish);
      reply();
    }
    conn.on('state', onState);
    // The editor closed the dialog: stop waiting.
    res.on?.('close', finish);
  });
};
