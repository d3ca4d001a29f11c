/**
 * `clawflow-llm`: one assistant turn per input message. Reads the conversation (msg.session
 * from the session gateway, or msg.payload), runs the tool loop of src/llm/tool-loop.ts and
 * maps it onto ports:
 *   1 reply (streamed partials + final, docs/decisions/0001), 2 error (apology),
 *   [approval requests, when a port tool or an allowed MCP tool needs approval], then one port per tool,
 *   [MCP audit, when enabled] (src/llm/ports.ts, docs/decisions/0100).
 * MCP server config nodes supply in-process tools, filtered by the node's allowlist; their
 * state is shown on this node's status next to its own.
 */
import type { NodeAPI, Node, NodeDef, NodeStatus } from 'node-red';
import { randomUUID } from 'crypto';
import { runTurn, PortTool, ProviderChoice, TurnResult, type ToolEvent } from '../src/llm/tool-loop';
import { conversationFromMsg } from '../src/llm/conversation';
import { compileToolSchema } from '../src/llm/validate';
import { LlmError } from '../src/llm/errors';
import { PartialThrottle, PARTIAL_INTERVAL_MS } from '../src/llm/partial-throttle';
import { dropTurn, turnSignal } from '../src/turn-signals';
import { mcpNeedsApproval, portLayout, ToolConfig } from '../src/llm/ports';
import { isMcpServerHandle, selectTools, type McpServerHandle, type StatusTarget } from '../src/llm/mcp';
import { mcpSummary } from '../src/llm/mcp/summary';
import type { InProcessTool } from '../src/llm/tool-types';
import type { ProviderSettings, Provider } from '../src/llm/types';

/** What this node uses of a clawflow-llm-provider config node. */
interface ProviderConfigNode extends Node {
  settings(): ProviderSettings;
  provider(): Provider;
}

interface LlmDef extends NodeDef {
  provider: string;
  fallbacks?: string[];
  model?: string;
  system?: string;
  temperature?: string | number;
  maxTokens?: string | number;
  stream?: boolean;
  tools?: ToolConfig[];
  toolTimeout?: string | number;
  maxIterations?: string | number;
  approvalTimeout?: string | number;
  apology?: boolean;
  apologyText?: string;
  mcpServers?: string[];
  mcpTools?: string[];
  /** MCP tools held for approval (`tool` or `server/tool`, a subset of mcpTools). */
  mcpApproval?: string[];
  mcpAudit?: boolean;
  /** Set by Node-RED: the node ids each output port is wired to. */
  wires?: string[][];
}

type Status = NodeStatus;

/**
 * How long a turn waits for an MCP server that is still in its first connect (just deployed, an
 * `npx` stdio server that takes seconds) before it runs without that server's tools.
 */
const MCP_FIRST_CONNECT_WAIT_MS = 30_000;

const num = (v: unknown, dflt: number | undefined): number | undefined => {
  if (v === '' || v === undefined || v === null) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
};

export = function (RED: NodeAPI) {
  function LlmNode(this: Node, config: LlmDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (k: string, o?: object) => RED._(`clawflow-llm.${k}`, o as any);
    const layout = portLayout(config.tools ?? [], { mcpAudit: !!config.mcpAudit, mcpTools: config.mcpTools, mcpApproval: config.mcpApproval });
    /** Running turns: their abort controllers, with the gateway's turn id where there is one. */
    const running = new Map<AbortController, string | undefined>();
    let active = 0;

    // A port with no wire answers nothing: a tool call leaving it would wait for its timeout, and an
    // approval request for its 10 minutes. Such tools are not offered (tools run only when wired).
    const wired = (port: number | undefined) => port !== undefined && (config.wires?.[port]?.length ?? 0) > 0;
    const approvalWired = wired(layout.approvalPort);

    // Check tool schemas now, so a broken schema is reported at deploy, not mid-turn.
    const portTools: PortTool[] = [];
    let configError: string | undefined;
    for (const tc of layout.tools) {
      if (!wired(layout.toolPort(tc.name))) {
        node.warn(t('errors.toolNotWired', { name: tc.name }));
        continue;
      }
      try {
        const def = { name: tc.name, description: tc.description ?? '', inputSchema: tc.schema };
        compileToolSchema(def);
        portTools.push({ def, needsApproval: tc.approval, timeoutMs: tc.timeoutMs });
      } catch (err) {
        configError = (err as Error).message;
      }
    }
    if (layout.errors.length || configError) {
      configError = configError ?? layout.errors.join('; ');
      node.error(t('errors.config', { error: configError }));
      node.status({ fill: 'red', shape: 'ring', text: t('status.configError') });
    }

    function providers(): ProviderChoice[] {
      const out: ProviderChoice[] = [];
      const ids = [config.provider, ...(config.fallbacks ?? [])].filter(Boolean);
      ids.forEach((id, i) => {
        const cfg = RED.nodes.getNode(id) as ProviderConfigNode | null;
        if (!cfg || typeof cfg.provider !== 'function') {
          throw new LlmError(t('errors.noProvider', { which: i === 0 ? t('label.provider') : `${t('label.fallbacks')} #${i}` }), { kind: 'config' });
        }
        const s = cfg.settings();
        const provider = cfg.provider();
        // The provider's default covers the config's empty Model (the provider's own default too).
        const model = (i === 0 && config.model?.trim()) || provider.defaultModel || s.defaultModel;
        if (!model) throw new LlmError(t('errors.noModel', { name: s.label ?? s.provider }), { kind: 'config', provider: s.provider });
        out.push({ provider, model, label: s.label, timeoutMs: s.timeoutMs, secrets: s.apiKey ? [s.apiKey] : [] });
      });
      return out;
    }

    // --- MCP servers: tools, allowlist warnings, status ---------------------------------
    const allow = (config.mcpTools ?? []).map((x) => String(x).trim()).filter(Boolean);
    const servers: McpServerHandle[] = [];
    const warned = new Set<string>();
    const warnOnce = (key: string, text: string) => {
      if (warned.has(key)) return;
      warned.add(key);
      node.warn(text);
    };
    let closed = false;
    /** Registered with each server: its state changes re-render this node's status. */
    const mcpWatcher: StatusTarget = { status: () => mcpChanged() };
    // A "needs approval" mark on a tool that is not allowed holds nothing (the tool is not offered).
    for (const name of config.mcpApproval ?? []) {
      if (String(name).trim() && !layout.mcpApproval.includes(String(name).trim())) warnOnce(`approval:${name}`, t('errors.mcpApprovalNotAllowed', { name }));
    }
    /** MCP tools held for approval: by model name or `<server>/<name>`. */
    const mcpHeld = (tool: InProcessTool) =>
      tool.source.startsWith('mcp:') && mcpNeedsApproval(layout.mcpApproval, tool.source.slice('mcp:'.length), tool.name, tool.originalName);
    for (const id of config.mcpServers ?? []) {
      if (!id) continue;
      const h = RED.nodes.getNode(id);
      if (isMcpServerHandle(h)) servers.push(h);
      else warnOnce(`server:${id}`, t('errors.mcpServerMissing', { id }));
    }

    /** The allowlisted MCP tools offered now. Reports names nobody offers, once per deploy. */
    function mcpTools(): InProcessTool[] {
      if (!allow.length) return [];
      const sel = selectTools(servers.map((h) => h.toolSource()), allow);
      // Only servers that are up can tell that a name is missing; a down one shows on the status.
      if (servers.every((h) => h.connection.state === 'ready')) {
        for (const name of sel.missing) warnOnce(`missing:${name}`, t('errors.mcpToolMissing', { name }));
      }
      for (const name of sel.duplicates) warnOnce(`dup:${name}`, t('errors.mcpToolDuplicate', { name }));
      return sel.tools;
    }

    /**
     * Wait (bounded, cancelled by `signal`) for the servers still in their first connect, so the
     * first turn after a deploy offers their tools. A server reconnecting after it was ready keeps
     * its known tools and is not waited for; one whose first attempt failed is not either.
     */
    async function whenMcpToolsKnown(signal: AbortSignal): Promise<void> {
      if (!allow.length) return;
      const pending = servers.filter((h) => h.connection.state === 'connecting' && !h.connection.tools.length);
      if (!pending.length) return;
      show({ fill: 'yellow', shape: 'ring', text: t('status.mcpWaiting', { name: pending.map((h) => h.connection.name).join("', '") }) });
      await Promise.all(pending.map((h) => h.connection.whenToolsKnown(MCP_FIRST_CONNECT_WAIT_MS, signal)));
      show(null);
    }

    function mcpChanged() {
      if (closed) return;
      render(); // also reports missing names as soon as the tools are known
    }

    // --- status: this node's own state first, then what the MCP servers add -----------
    /** Set while turns run (waiting for a tool, for approval, retrying). */
    let busy: Status | null = null;
    /** How the last turn ended when it did not answer; shown while idle until the next turn. */
    let outcome: Status | null = null;
    /**
     * "thinking (n)" by n. render() runs at the start and the end of every turn, and RED._ (an
     * i18next lookup) there was ~6% of Node-RED's CPU in the pipeline benchmark; the runtime's
     * language does not change while the node lives.
     */
    const runningTexts = new Map<number, string>();
    const runningText = (n: number): string => {
      let text = runningTexts.get(n);
      if (text === undefined) runningTexts.set(n, (text = t('status.running', { n })));
      return text;
    };
    function render() {
      if (configError || closed) return;
      const base = active ? busy ?? { fill: 'blue', shape: 'dot', text: runningText(active) } : outcome;
      const offered = mcpTools().length;
      const m = servers.length ? mcpSummary(servers.map((h) => ({ name: h.connection.name, state: h.connection.state })), offered) : null;
      if (!m) return node.status(base ?? {});
      const mcpText = m.problem
        ? t('status.mcpProblem', { name: m.problem.name, state: t(`status.mcpState.${m.problem.state}`), more: m.more ? ` (+${m.more})` : '' })
        : t('status.mcpReady', { servers: m.servers, tools: m.tools });
      if (base) return node.status({ ...base, text: m.problem ? `${base.text} · ${mcpText}` : base.text });
      node.status(m.problem ? { fill: m.fill, shape: 'ring', text: mcpText } : { fill: 'green', shape: 'dot', text: `${t('status.ready')} · ${mcpText}` });
    }
    const show = (st: Status | null) => {
      busy = st;
      render();
    };

    for (const h of servers) h.register(mcpWatcher);
    render();

    node.on('input', (msg: any, send: (m: any) => void, done: (err?: Error) => void) => {
      if (configError) return done(new Error(t('errors.config', { error: configError })));
      // Set once the first partial went out: a failure must then close that stream, so the
      // channel turns its draft (and typing) into the apology instead of leaving them behind.
      let openStream: { id: string; next: () => number } | null = null;
      let history;
      try {
        history = conversationFromMsg(msg);
      } catch (err) {
        return fail(err as Error, false);
      }
      const turnId: string | undefined = msg.session?.turnId;
      const ctl = new AbortController();
      running.set(ctl, turnId);
      const signals = [ctl.signal];
      if (turnId) signals.push(turnSignal(turnId));
      const signal = AbortSignal.any(signals);
      // Stable for a turn: handed out again after a deploy restarted this node, the new run
      // edits the same draft in the chat instead of leaving the first one half-written.
      const streamId = turnId ? `${turnId}.${node.id}` : randomUUID();
      const streaming = config.stream !== false;
      let seq = 0;
      const out = (port: number, m: any) => {
        const arr: any[] = new Array(layout.outputs).fill(null);
        arr[port] = m;
        send(arr);
      };
      const throttle = new PartialThrottle({
        intervalMs: PARTIAL_INTERVAL_MS,
        emit: (delta, text) => {
          if (signal.aborted) return;
          openStream ??= { id: streamId, next: () => seq++ };
          out(0, { ...msg, payload: text, stream: { id: streamId, seq: seq++, delta, done: false } });
        },
      });
      /** The "retrying" status this turn set; the retried request's first answer clears it. */
      let retryShown: Status | null = null;
      const partial = (delta: string, text: string) => {
        if (retryShown && delta) {
          if (busy === retryShown) show(null);
          retryShown = null;
        }
        if (!streaming || signal.aborted) return;
        throttle.push(delta, text);
      };
      active++;
      outcome = null;
      render();
      partial('', ''); // "typing"

      let choices: ProviderChoice[];
      try {
        choices = providers();
      } catch (err) {
        return finish(() => fail(err as Error, true));
      }
      whenMcpToolsKnown(signal).then(() => runTurn({
        providers: choices,
        system: config.system || undefined,
        messages: history,
        temperature: num(config.temperature, undefined),
        maxTokens: num(config.maxTokens, undefined),
        portTools,
        inProcessTools: mcpTools(),
        inProcessNeedsApproval: mcpHeld,
        maxToolIterations: num(config.maxIterations, 8),
        toolTimeoutMs: (num(config.toolTimeout, 60) as number) * 1000,
        approvalTimeoutMs: (num(config.approvalTimeout, 600) as number) * 1000,
        signal,
        turnId,
        hooks: {
          onText: partial,
          dispatchPortCall: (c) => {
            const m = RED.util.cloneMessage(msg);
            delete m.stream;
            m.payload = c.args;
            m.toolCall = { id: c.handle, name: c.tool, callId: c.callId, iteration: c.iteration };
            m.topic = c.tool;
            show({ fill: 'blue', shape: 'ring', text: t('status.tool', { name: c.tool }) });
            out(layout.toolPort(c.tool), m);
          },
          // Without a wire on the approval port nobody can answer: held calls are refused at once.
          requestApproval: !approvalWired ? undefined : (r) => {
            const m = RED.util.cloneMessage(msg);
            delete m.stream;
            m.payload = r.args;
            m.toolCall = { id: r.handle, name: r.tool, callId: r.callId, iteration: r.iteration, approval: true };
            // An MCP tool runs in-process once approved: say which server it would reach.
            if (r.source !== 'port') m.toolCall.source = r.source;
            m.topic = r.tool;
            show({ fill: 'yellow', shape: 'ring', text: t('status.approval', { name: r.tool }) });
            out(layout.approvalPort as number, m);
          },
          onRetry: (e, attempt, delay) => {
            retryShown = { fill: 'yellow', shape: 'ring', text: t('status.retrying', { kind: e.status ?? e.kind, attempt, s: Math.ceil(delay / 1000) }) };
            show(retryShown);
            node.warn(t('status.retryLog', { error: e.message, attempt }));
          },
          onToolEvent: (ev: ToolEvent) => {
            if (!ev.source.startsWith('mcp:')) return;
            if (ev.phase === 'call') return show({ fill: 'blue', shape: 'ring', text: t('status.mcpTool', { name: ev.tool }) });
            show(null);
            if (layout.auditPort === undefined) return;
            // A copy of what the model got, per call of this turn (not the server's shared 'call'
            // event, which would mix in other llm nodes' calls).
            const server = ev.source.slice('mcp:'.length);
            const info = servers.find((h) => h.connection.name === server)?.connection.tools.find((x) => x.name === ev.tool);
            const m = RED.util.cloneMessage(msg);
            delete m.stream;
            const result: Record<string, unknown> = { content: ev.result.content, isError: !!ev.result.isError };
            if (ev.result.structured !== undefined) result.structured = ev.result.structured;
            m.payload = { server, tool: ev.tool, mcpName: info?.mcpName ?? ev.tool, args: ev.args ?? null, result, ms: ev.ms };
            m.toolCall = { name: ev.tool, callId: ev.callId, iteration: ev.iteration, source: ev.source, audit: true };
            m.topic = ev.tool;
            out(layout.auditPort, m);
          },
          onToolSkipped: (name, why) => warnOnce(`schema:${name}`, t('errors.mcpToolSchema', { name, error: why })),
          onFailover: (e, next) => {
            node.warn(t('status.failover', { error: e.message, next: next.label ?? next.provider.name }));
          },
        },
      })).then(
        (r: TurnResult) =>
          finish(() => {
            if (!r.text.trim()) {
              // Nothing to say would reach the chat as nothing at all: fail the turn instead, so
              // the user gets the apology and a Catch node sees why.
              return fail(new LlmError(t('errors.empty', { model: r.model, stop: r.stopReason ?? '?' }), { kind: 'empty', provider: r.provider, model: r.model }), true);
            }
            const m: any = { ...msg, payload: r.text };
            if (streaming) m.stream = { id: streamId, seq: seq++, delta: '', done: true };
            else delete m.stream;
            m.usage = { inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, totalTokens: r.usage.inputTokens + r.usage.outputTokens };
            m.llm = { provider: r.provider, model: r.model, stopReason: r.stopReason, toolIterations: r.toolIterations, toolCalls: r.toolCalls, retries: r.retries, failovers: r.failovers };
            out(0, m);
            done();
          }),
        (err: LlmError) =>
          finish(() => {
            if (err.kind === 'aborted') {
              outcome = { fill: 'grey', shape: 'ring', text: t('status.aborted') };
              render();
              return done();
            }
            fail(err, true);
          }),
      );

      function finish(fn: () => void) {
        throttle.finish();
        running.delete(ctl);
        active--;
        if (!active) busy = null;
        render();
        fn();
      }

      function fail(err: Error, sendApology: boolean) {
        if (!configError) {
          outcome = { fill: 'red', shape: 'dot', text: t('status.failed', { kind: (err as LlmError).kind ?? 'input' }) };
          render();
        }
        if (sendApology && config.apology !== false) {
          const m: any = { ...msg };
          delete m.stream;
          if (openStream) m.stream = { id: openStream.id, seq: openStream.next(), delta: '', done: true };
          m.payload = config.apologyText || t('apology');
          m.error = { message: err.message, kind: (err as LlmError).kind, provider: (err as LlmError).provider, model: (err as LlmError).model, status: (err as LlmError).status };
          m.reason = 'llm_error';
          out(1, m);
        }
        done(err);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      for (const h of servers) h.deregister(mcpWatcher);
      for (const [c, turnId] of running) {
        // The session gateway still holds the turn: it hands it to the new llm node.
        if (turnId) dropTurn(turnId);
        c.abort(new Error('node closed (redeploy)'));
      }
      running.clear();
      done();
    });
  }

  RED.nodes.registerType('clawflow-llm', LlmNode as any);
};
