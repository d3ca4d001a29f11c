/**
 * One assistant turn: ask the model, run the tools it asks for, give it the results, and
 * repeat until it answers (or the iteration limit is hit). Provider-neutral and free of
 * Node-RED: the llm node plugs in how a port tool call leaves the node
 * ({@link TurnHooks.dispatchPortCall}) and what to do with streamed text.
 *
 * A tool that needs approval (a port tool with `needsApproval`, an in-process tool for which
 * {@link TurnOptions.inProcessNeedsApproval} says so) is held until {@link TurnHooks.requestApproval}'s
 * request is settled; denied or unanswered calls never run (docs/decisions/0030, 0200).
 *
 * Rules: a bad call from the model (unknown tool, bad JSON, schema violation), a tool
 * timeout and a thrown in-process tool all become error results the model reads; only
 * provider failures, aborts and the iteration limit end the turn with an error.
 */
import { setMaxListeners } from 'events';
import type { InProcessTool, ToolDefinition, ToolResult } from './tool-types';
import type { Completion, ConvMessage, ModelToolCall, Provider, Usage } from './types';
import { LlmError } from './errors';
import { DEFAULT_RETRY, RetryPolicy, withRetry } from './retry';
import { checkArguments, compileToolSchema } from './validate';
import { waitExternal } from './pending';
import { takeSteer } from '../turn-steering';

/** A tool whose calls leave the llm node on an output port. */
export interface PortTool {
  def: ToolDefinition;
  /** Hold each call until a human approves it. */
  needsApproval?: boolean;
  /** Overrides the turn's tool timeout for this tool. */
  timeoutMs?: number;
}

/** One provider to try, with the model to use on it. */
export interface ProviderChoice {
  provider: Provider;
  model: string;
  /** Config node name, for errors. */
  label?: string;
  /** Per-request idle timeout in ms (no data for this long = timeout). */
  timeoutMs?: number;
  /** Strings to scrub from error texts (the API key). */
  secrets?: string[];
}

/** A call leaving on a port: everything the node needs to build the tool message. */
export interface PortCall {
  /** The correlation handle: a tool-result node settles the call by this id. */
  handle: string;
  /** The model's own call id. */
  callId: string;
  tool: string;
  args: Record<string, unknown>;
  iteration: number;
}

/** A call held for approval. */
export interface ApprovalRequest {
  /** Settle with settleApproval(handle, approved). */
  handle: string;
  callId: string;
  tool: string;
  /** Where the tool runs once approved: `port`, or the in-process tool's source (`mcp:<server>`). */
  source: string;
  args: Record<string, unknown>;
  iteration: number;
}

/**
 * What happened to a tool call, for audit outputs (MCP audit port) and status. `call` is
 * emitted before a tool runs, `result` after (also for error results).
 */
export type ToolEvent =
  | { phase: 'call'; tool: string; source: string; callId: string; args: Record<string, unknown>; iteration: number }
  | {
      phase: 'result';
      tool: string;
      source: string;
      callId: string;
      result: ToolResult;
      iteration: number;
      /** The validated arguments; absent when the call never got that far (bad arguments). */
      args?: Record<string, unknown>;
      /** From the `call` event to the result (0 when the call was refused before running). */
      ms: number;
    };

export interface TurnHooks {
  /** Streamed text: `delta` is new text, `text` the whole reply so far (may shrink on a retry). */
  onText?(delta: string, text: string): void;
  /** Send a port tool call out (synchronously; the loop waits for the tool-result node). */
  dispatchPortCall?(call: PortCall): void;
  /** Ask for approval of a held call. Without this hook, calls needing approval are refused. */
  requestApproval?(req: ApprovalRequest): void;
  onToolEvent?(ev: ToolEvent): void;
  onRetry?(err: LlmError, attempt: number, delayMs: number): void;
  /** Told when a provider failed for good and the next one is tried. */
  onFailover?(err: LlmError, next: ProviderChoice): void;
  /** Each model request starts (iteration = tool round, 0 first). */
  onRequest?(choice: ProviderChoice, iteration: number): void;
  /** An in-process tool was left out of this turn: its schema does not compile (`why`). */
  onToolSkipped?(name: string, why: string): void;
}

export interface TurnOptions {
  /** Primary first, then fallbacks in order. */
  providers: ProviderChoice[];
  system?: string;
  /** The conversation so far, the new user message last. Not modified. */
  messages: ConvMessage[];
  temperature?: number;
  maxTokens?: number;
  portTools?: PortTool[];
  inProcessTools?: InProcessTool[];
  /** Which in-process tools are held for approval like a port tool with `needsApproval` (none by default). */
  inProcessNeedsApproval?: (tool: InProcessTool) => boolean;
  /** Tool rounds allowed before the turn fails (default 8). */
  maxToolIterations?: number;
  /** Default per-call tool timeout in ms (default 60 s). */
  toolTimeoutMs?: number;
  /** How long a held call (port or in-process) waits for approval (default 10 min). */
  approvalTimeoutMs?: number;
  signal: AbortSignal;
  /** The session turn this runs (msg.session.turnId): steering messages for it join at tool-call boundaries. */
  turnId?: string;
  retry?: RetryPolicy;
  hooks?: TurnHooks;
}

export interface TurnResult {
  text: string;
  usage: Usage;
  /** The provider and model that produced the final answer. */
  provider: string;
  model: string;
  stopReason: string;
  /** Tool rounds run. */
  toolIterations: number;
  /** Tool calls run in all. */
  toolCalls: number;
  /** Retries and provider switches, for msg.llm. */
  retries: number;
  failovers: number;
  /** Messages added in this turn (assistant + tool), for callers keeping a transcript. */
  added: ConvMessage[];
}

/**
 * Tool calls of one model message that run; the rest get an error result the model reads
 * (every call id needs a result). Bounds what one reply can fan out to (decision 0190).
 */
export const MAX_TOOL_CALLS_PER_MESSAGE = 32;
/** More calls than this in one message end the turn: not even error results are worth sending back. */
export const HARD_TOOL_CALLS_PER_MESSAGE = 512;
/**
 * Characters of one tool result the model reads (about 25 K tokens). A tool that returns a whole
 * file or page would otherwise put megabytes into every later request of the turn, and the
 * provider refuses the request (context length, 413): the turn fails instead of the model
 * answering from what it got. The rest is cut, and the model is told (decision 0290).
 */
export const MAX_TOOL_RESULT_CHARS = 100_000;

type AnyTool = { kind: 'port'; tool: PortTool } | { kind: 'inproc'; tool: InProcessTool };

/** Run one turn. Throws an {@link LlmError} (kind `aborted` when the signal fired). */
export async function runTurn(opts: TurnOptions): Promise<TurnResult> {
  if (!opts.providers.length) throw new LlmError('no provider configured: pick a provider config node in the llm node', { kind: 'config' });
  const hooks = opts.hooks ?? {};
  const maxIter = opts.maxToolIterations ?? 8;
  const toolTimeout = opts.toolTimeoutMs ?? 60_000;
  const tools = new Map<string, AnyTool>();
  for (const t of opts.portTools ?? []) {
    compileToolSchema(t.def);
    tools.set(t.def.name, { kind: 'port', tool: t });
  }
  for (const t of opts.inProcessTools ?? []) {
    if (tools.has(t.name)) continue; // the node's own tool of the same name wins
    // An MCP server's schema is outside input: one that does not compile would fail every call
    // (and most providers refuse the whole request), so the tool is not offered.
    try {
      compileToolSchema(t);
    } catch (err) {
      hooks.onToolSkipped?.(t.name, (err as Error).message);
      continue;
    }
    tools.set(t.name, { kind: 'inproc', tool: t });
  }
  const defs: ToolDefinition[] = [...tools.values()].map((t) =>
    t.kind === 'port' ? t.tool.def : { name: t.tool.name, description: t.tool.description, inputSchema: t.tool.inputSchema },
  );

  // Up to MAX_TOOL_CALLS_PER_MESSAGE calls wait on the turn's signal at once: not a leak.
  setMaxListeners(MAX_TOOL_CALLS_PER_MESSAGE * 2 + 10, opts.signal);
  const conv: ConvMessage[] = [...opts.messages];
  const added: ConvMessage[] = [];
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let providerIdx = 0;
  let committed = ''; // text of finished model requests in this turn
  let retries = 0;
  let failovers = 0;
  let toolCallsRun = 0;
  let limitWarned = false;

  for (let iteration = 0; ; iteration++) {
    abortCheck(opts.signal);
    const prefix = committed ? `${committed}\n\n` : '';
    let attemptText = '';
    const completion = await completeWithFailover(iteration);
    usage.inputTokens += completion.result.usage.inputTokens;
    usage.outputTokens += completion.result.usage.outputTokens;
    const res = completion.result;
    if (res.text) committed = prefix + res.text;
    const assistant: ConvMessage = { role: 'assistant', content: res.text, toolCalls: res.toolCalls.length ? res.toolCalls : undefined, reasoning: res.reasoning };
    conv.push(assistant);
    added.push(assistant);

    if (!res.toolCalls.length) {
      return {
        text: committed,
        usage,
        provider: completion.choice.provider.name,
        model: completion.choice.model,
        stopReason: res.rawStopReason ?? res.stopReason,
        toolIterations: iteration,
        toolCalls: toolCallsRun,
        retries,
        failovers,
        added,
      };
    }
    if (iteration >= maxIter) {
      if (limitWarned) {
        throw new LlmError(
          `the model kept calling tools after ${maxIter} tool rounds: raise "max tool iterations" in the llm node or make the tools' results more conclusive`,
          { kind: 'tool_limit', provider: completion.choice.provider.name, model: completion.choice.model },
        );
      }
      // One last chance: refuse the calls and ask for an answer.
      limitWarned = true;
      for (const call of res.toolCalls) {
        pushResult(call, { content: `Tool limit reached (${maxIter} rounds): do not call tools any more; answer the user with what you have.`, isError: true });
      }
      continue;
    }
    if (res.toolCalls.length > HARD_TOOL_CALLS_PER_MESSAGE) {
      throw new LlmError(
        `the model asked for ${res.toolCalls.length} tool calls in one message (at most ${HARD_TOOL_CALLS_PER_MESSAGE}): none ran; check the model and the tool descriptions`,
        { kind: 'tool_limit', provider: completion.choice.provider.name, model: completion.choice.model },
      );
    }
    const results = await Promise.all(
      res.toolCalls.map((call, i) =>
        i < MAX_TOOL_CALLS_PER_MESSAGE
          ? runCall(call, iteration)
          : { content: `Error: too many tool calls in one message (${res.toolCalls.length}); only the first ${MAX_TOOL_CALLS_PER_MESSAGE} ran. Call this one again in your next message if you still need it.`, isError: true },
      ),
    );
    toolCallsRun += Math.min(res.toolCalls.length, MAX_TOOL_CALLS_PER_MESSAGE);
    res.toolCalls.forEach((call, i) => pushResult(call, results[i]));
    // Queue mode `steer`: what the user sent meanwhile is read before the model continues.
    for (const text of opts.turnId ? takeSteer(opts.turnId) : []) {
      const steer: ConvMessage = { role: 'user', content: text };
      conv.push(steer);
      added.push(steer);
    }

    // --- helpers bound to this iteration's closure ---
    async function completeWithFailover(iter: number): Promise<{ result: Completion; choice: ProviderChoice }> {
      const failures: LlmError[] = [];
      for (;;) {
        const choice = opts.providers[providerIdx];
        try {
          hooks.onRequest?.(choice, iter);
          const result = await completeOnce(choice);
          return { result, choice };
        } catch (err) {
          const e = err as LlmError;
          if (e.kind === 'aborted' || opts.signal.aborted) throw abortedError(choice);
          failures.push(e);
          if (providerIdx + 1 >= opts.providers.length) throw combine(failures, e);
          providerIdx++;
          failovers++;
          hooks.onFailover?.(e, opts.providers[providerIdx]);
        }
      }
    }

    function completeOnce(choice: ProviderChoice): Promise<Completion> {
      let timedOut = false;
      return withRetry(
        async (attempt) => {
          // A retry, or the fallback after a provider failed mid-stream: the answer starts over
          // (attemptText is per tool round, so it still holds the failed provider's text).
          if (attemptText) {
            attemptText = '';
            hooks.onText?.('', committed);
          }
          timedOut = false;
          const ctl = new AbortController();
          const onTurnAbort = () => ctl.abort(opts.signal.reason);
          opts.signal.addEventListener('abort', onTurnAbort, { once: true });
          const idle = choice.timeoutMs && choice.timeoutMs > 0 ? choice.timeoutMs : 0;
          let timer: NodeJS.Timeout | undefined;
          const arm = () => {
            if (!idle) return;
            if (timer) clearTimeout(timer);
            timer = setTimeout(() => {
              timedOut = true;
              ctl.abort(new Error('timeout'));
            }, idle);
          };
          arm();
          try {
            return await choice.provider.complete({
              model: choice.model,
              system: opts.system,
              messages: conv,
              tools: defs,
              temperature: opts.temperature,
              maxTokens: opts.maxTokens,
              signal: ctl.signal,
              onActivity: arm,
              onText: (delta) => {
                arm();
                if (!delta) return;
                attemptText += delta;
                hooks.onText?.(delta, prefix + attemptText);
              },
            });
          } finally {
            if (timer) clearTimeout(timer);
            opts.signal.removeEventListener('abort', onTurnAbort);
          }
        },
        {
          policy: opts.retry ?? DEFAULT_RETRY,
          signal: opts.signal,
          ctx: () => ({
            provider: choice.provider.name,
            model: choice.model,
            label: choice.label,
            secrets: choice.secrets,
            timedOut,
            turnAborted: opts.signal.aborted,
          }),
          onRetry: (err, attempt, delay) => {
            retries++;
            hooks.onRetry?.(err, attempt, delay);
          },
        },
      );
    }
  }

  function pushResult(call: ModelToolCall, result: ToolResult): void {
    const msg: ConvMessage = { role: 'tool', toolCallId: call.id, name: call.name, content: modelText(result), isError: result.isError };
    conv.push(msg);
    added.push(msg);
  }

  async function runCall(call: ModelToolCall, iteration: number): Promise<ToolResult> {
    const entry = tools.get(call.name);
    const source = entry?.kind === 'inproc' ? entry.tool.source : 'port';
    let started = 0;
    const finish = (result: ToolResult, args?: Record<string, unknown>) => {
      const ms = started ? Date.now() - started : 0;
      hooks.onToolEvent?.({ phase: 'result', tool: call.name, source, callId: call.id, result, iteration, args, ms });
      return result;
    };
    if (!entry) {
      const known = [...tools.keys()].join(', ') || '(none)';
      return finish({ content: `Error: there is no tool named "${call.name}". Available tools: ${known}.`, isError: true });
    }
    const def = entry.kind === 'port' ? entry.tool.def : entry.tool;
    const checked = checkArguments(def, call.arguments);
    if (!checked.ok) return finish({ content: `Error: ${checked.error}`, isError: true });
    const args = checked.args;
    started = Date.now();
    hooks.onToolEvent?.({ phase: 'call', tool: call.name, source, callId: call.id, args, iteration });

    const held = entry.kind === 'port' ? !!entry.tool.needsApproval : !!opts.inProcessNeedsApproval?.(entry.tool);
    if (held) {
      if (!hooks.requestApproval) return finish({ content: `Error: ${call.name} needs approval and nobody can approve it here.`, isError: true }, args);
      const approvalMs = opts.approvalTimeoutMs ?? 600_000;
      const wait = waitExternal('approval', call.name, approvalMs, opts.signal);
      try {
        hooks.requestApproval({ handle: wait.id, callId: call.id, tool: call.name, source, args, iteration });
      } catch (err) {
        // The flow threw synchronously while taking the request; the wait stays open until timeout.
        void err;
      }
      const o = await wait.outcome;
      if (o.status === 'aborted') return finish({ content: 'Error: the turn was cancelled.', isError: true }, args);
      if (o.status === 'timeout') return finish({ content: `Error: the call to ${call.name} was not approved in time (no answer within ${secs(approvalMs)} s); it was not run.`, isError: true }, args);
      if (o.status === 'approval' && !o.approved) {
        return finish({ content: `Error: the user denied the call to ${call.name}${o.reason ? `: ${o.reason}` : ''}. It was not run.`, isError: true }, args);
      }
    }

    const timeoutMs = (entry.kind === 'port' ? entry.tool.timeoutMs : undefined) ?? toolTimeout;
    if (entry.kind === 'port') {
      if (!hooks.dispatchPortCall) return finish({ content: `Error: ${call.name} cannot be called here.`, isError: true }, args);
      const wait = waitExternal('result', call.name, timeoutMs, opts.signal);
      try {
        hooks.dispatchPortCall({ handle: wait.id, callId: call.id, tool: call.name, args, iteration });
      } catch (err) {
        // The flow threw synchronously while taking the message; the wait stays open until timeout.
        void err;
      }
      const o = await wait.outcome;
      if (o.status === 'result') return finish(o.result, args);
      if (o.status === 'timeout') {
        return finish({ content: `Error: the tool ${call.name} did not answer within ${Math.round(timeoutMs / 1000)} s (timeout). Its result is unknown.`, isError: true }, args);
      }
      return finish({ content: 'Error: the turn was cancelled.', isError: true }, args);
    }
    return finish(await runInProcess(entry.tool, args, timeoutMs), args);
  }

  async function runInProcess(tool: InProcessTool, args: Record<string, unknown>, timeoutMs: number): Promise<ToolResult> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(opts.signal.reason);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ToolResult>((resolve) => {
      timer = setTimeout(() => {
        ctl.abort(new Error('tool timeout'));
        resolve({ content: `Error: the tool ${tool.name} did not answer within ${Math.round(timeoutMs / 1000)} s (timeout).`, isError: true });
      }, timeoutMs);
    });
    try {
      const run = Promise.resolve()
        .then(() => tool.run(args, { signal: ctl.signal, timeoutMs }))
        .then(
          (r) => (r && typeof r.content === 'string' ? r : { content: JSON.stringify(r ?? null) }),
          (err) => ({ content: `Error: ${tool.name} failed: ${(err as Error)?.message ?? String(err)}`, isError: true }),
        );
      return await Promise.race([run, timeout]);
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * The text the model reads for a tool result. OpenAI and Ollama have no error flag on a tool
 * message, so a failed result (an MCP `isError`, a tool-result node's error) that does not say
 * so itself is marked `Error: `; otherwise the model takes "disk full" for the tool's answer.
 */
export function modelText(result: ToolResult): string {
  const text = boundedText(result.content);
  if (!result.isError || /^\s*error\b/i.test(text)) return text;
  return `Error: ${text}`;
}

/** `content` cut to {@link MAX_TOOL_RESULT_CHARS}, with a note the model reads. */
function boundedText(content: string): string {
  if (content.length <= MAX_TOOL_RESULT_CHARS) return content;
  return `${content.slice(0, MAX_TOOL_RESULT_CHARS)}\n[tool result cut: ${content.length} characters, only the first ${MAX_TOOL_RESULT_CHARS} are shown]`;
}

/** Seconds for a message: whole seconds, or one decimal below 10 s (0.5 s, not 0 s). */
function secs(ms: number): string {
  return ms >= 10_000 ? String(Math.round(ms / 1000)) : String(Math.round(ms / 100) / 10);
}

function abortCheck(signal: AbortSignal): void {
  if (signal.aborted) throw new LlmError('the turn was aborted', { kind: 'aborted' });
}

function abortedError(choice: ProviderChoice): LlmError {
  return new LlmError(`${choice.provider.name} request aborted: the turn was cancelled`, { kind: 'aborted', provider: choice.provider.name, model: choice.model });
}

/** One error for "every provider failed": the last one's kind, all of their messages. */
function combine(failures: LlmError[], last: LlmError): LlmError {
  if (failures.length <= 1) return last;
  const msg = `all ${failures.length} providers failed: ${failures.map((f, i) => `(${i + 1}) ${f.message}`).join(' | ')}`;
  return new LlmError(msg, { kind: last.kind, provider: last.provider, model: last.model, status: last.status, hint: last.hint, cause: last });
}
