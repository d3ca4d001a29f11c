/**
 * `clawflow-webchat` config node: serves the chat page on Node-RED's own HTTP server
 * (RED.httpNode, so httpNodeAuth applies) and its WebSocket on RED.server. It owns the one
 * WebchatServer for its path; `webchat in` / `webchat out` nodes register with it.
 * On close it removes its route, its upgrade listener and every socket.
 */
import path from 'path';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import {
  FileTranscriptStore,
  MemoryTranscriptStore,
  Outbox,
  WebchatServer,
  normaliseChatPath,
  parseOrigins,
  type InboundMessage,
  type TranscriptStore,
  type WebchatHub,
  type WebchatState,
} from '../src/channels/webchat';

interface WebchatDef extends NodeDef {
  path: string;
  title: string;
  historyLimit: string | number;
  origins: string;
}

function joinUrlPath(root: string, p: string): string {
  return (root.endsWith('/') ? root.slice(0, -1) : root) + p;
}

/** The config node as in/out nodes use it (WebchatHub) plus the engine, for tests. */
type WebchatConfigNode = Node & WebchatHub & { server?: WebchatServer };

const PUBLIC_DIR = path.join(__dirname, '..', 'public', 'webchat');

export = function (RED: NodeAPI) {
  /** Socket paths in use, across config nodes: two chats on one path would fight over it. */
  const inUse = new Map<string, string>();

  function WebchatNode(this: WebchatConfigNode, config: WebchatDef) {
    RED.nodes.createNode(this, config);
    const node = this as WebchatConfigNode & { [k: string]: any };
    const stateListeners = new Set<(s: WebchatState) => void>();
    const inboundListeners = new Set<(m: InboundMessage) => void | Promise<boolean>>();
    let current: WebchatState = { state: 'stopped', clients: 0, url: '' };
    const setState = (s: Partial<WebchatState>) => {
      current = { ...current, ...s };
      for (const l of stateListeners) l(current);
    };

    node.subscribe = (listener) => {
      stateListeners.add(listener);
      listener(current);
      return () => stateListeners.delete(listener);
    };
    node.onInbound = (listener) => {
      inboundListeners.add(listener);
      return () => inboundListeners.delete(listener);
    };
    node.deliver = async () => {
      throw new Error(RED._('clawflow-webchat.errors.not-running', { error: current.error ?? '' }));
    };
    let cleanup: (() => Promise<void>) | undefined;

    const fail = (key: string, vars: Record<string, string> = {}) => {
      const error = RED._(`clawflow-webchat.errors.${key}`, vars);
      node.error(error);
      setState({ state: 'failed', error });
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      const c = cleanup;
      cleanup = undefined;
      stateListeners.clear();
      inboundListeners.clear();
      (c ? c() : Promise.resolve()).then(
        () => done(),
        (err) => {
          node.warn(RED._('clawflow-webchat.errors.close-failed', { error: String((err as Error)?.message ?? err) }));
          done();
        },
      );
    });

    const mountPath = normaliseChatPath(config.path);
    if (!mountPath) return fail('bad-path', { path: String(config.path) });
    const nodeRoot = (RED.settings as any).httpNodeRoot;
    if (nodeRoot === false) return fail('http-disabled');
    const app = RED.httpNode as any;
    const httpServer = (RED as any).server as import('http').Server | undefined;
    if (!app || !httpServer) return fail('no-server');
    const pageUrl = joinUrlPath(typeof nodeRoot === 'string' ? nodeRoot : '/', mountPath);
    const wsPath = pageUrl + '/ws';
    Object.defineProperty(node, 'pageUrl', { value: pageUrl + '/', enumerable: true });
    const owner = inUse.get(wsPath);
    if (owner && owner !== node.id) return fail('duplicate-path', { path: mountPath });
    const { origins, bad } = parseOrigins(config.origins);
    if (bad.length) return fail('bad-origins', { origins: bad.join(', ') });

    const limitNum = Number(config.historyLimit);
    const limit = Number.isFinite(limitNum) && limitNum >= 10 ? Math.min(10_000, Math.floor(limitNum)) : 200;
    const userDir = (RED.settings as any).userDir as string | undefined;
    let store: TranscriptStore;
    if (userDir) {
      const dir = path.join(userDir, 'clawflow', 'webchat', node.id.replace(/[^A-Za-z0-9_-]/g, '_'));
      store = new FileTranscriptStore(dir, (file) => node.warn(RED._('clawflow-webchat.errors.torn-line', { file })));
    } else {
      node.warn(RED._('clawflow-webchat.errors.no-user-dir'));
      store = new MemoryTranscriptStore();
    }
    const outbox = new Outbox({
      store,
      limit,
      onError: (err) => node.warn(RED._('clawflow-webchat.errors.store-failed', { error: String((err as Error)?.message ?? err) })),
    });
    const token = (node.credentials as { token?: string } | undefined)?.token || undefined;
    const server = new WebchatServer({
      wsPath,
      publicDir: PUBLIC_DIR,
      outbox,
      title: config.title || '',
      accessToken: token,
      allowedOrigins: origins,
      // Taken once every webchat in that waits for a hand-off says so (decision 0170).
      onMessage: (m) => {
        const deferred: Promise<boolean>[] = [];
        for (const l of [...inboundListeners]) {
          try {
            const r = l(m);
            if (r && typeof r.then === 'function') deferred.push(r.catch((err: unknown) => (node.error(err), true)));
          } catch (err) {
            node.error(err);
          }
        }
        if (deferred.length) return Promise.all(deferred).then((all) => all.every((ok) => ok !== false));
      },
      onClients: (clients) => setState({ clients }),
      onError: (err) => node.debug(String((err as Error)?.message ?? err)),
    });
    Object.defineProperty(node, 'server', { value: server, enumerable: false });
    node.deliver = (peerId, update) => server.deliver(peerId, update);

    app.use(mountPath, server.httpHandler);
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        server.handleUpgrade(req, socket, head);
      } catch (err) {
        socket.destroy();
        node.error(err);
      }
    };
    httpServer.on('upgrade', onUpgrade);
    inUse.set(wsPath, node.id);
    setState({ state: 'ready', url: pageUrl + '/' });
    node.log(RED._('clawflow-webchat.log.serving', { url: pageUrl + '/' }));

    cleanup = async () => {
      httpServer.removeListener('upgrade', onUpgrade);
      // The same removal Node-RED's own http in node does: take our layer out of the router.
      const stack: any[] | undefined = (app._router ?? app.router)?.stack;
      if (stack) {
        for (let i = stack.length - 1; i >= 0; i--) if (stack[i].handle === server.httpHandler) stack.splice(i, 1);
      }
      if (inUse.get(wsPath) === node.id) inUse.delete(wsPath);
      await server.close();
    };
  }

  RED.nodes.registerType('clawflow-webchat', WebchatNode as any, {
    credentials: { token: { type: 'password' } },
  });
};
