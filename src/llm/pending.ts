/**
 * Tool calls (and approvals) that wait for something outside the llm node: a message that
 * reaches a tool-result node somewhere in the flow. Process-wide, keyed by a handle the llm
 * node puts on `msg.toolCall.id`; the handle is a random UUID (not the model's call id,
 * which Ollama does not give and which repeats across turns), so a stale or forged message
 * cannot settle another turn's call.
 */
import { randomUUID } from 'crypto';
import type { ToolResult } from './tool-types';

export type PendingKind = 'result' | 'approval';

/** How a wait ended. */
export type PendingOutcome =
  | { status: 'result'; result: ToolResult }
  | { status: 'approval'; approved: boolean; reason?: string }
  | { status: 'timeout' }
  | { status: 'aborted' };

interface Entry {
  kind: PendingKind;
  name: string;
  settle(o: PendingOutcome): void;
}

const pending = new Map<string, Entry>();

/**
 * Register a wait and return its handle and the outcome. The wait ends with the first of:
 * a matching settle call, `timeoutMs`, or `signal` aborting. The entry is always removed.
 */
export function waitExternal(kind: PendingKind, name: string, timeoutMs: number, signal: AbortSignal): { id: string; outcome: Promise<PendingOutcome> } {
  const id = randomUUID();
  const outcome = new Promise<PendingOutcome>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (o: PendingOutcome) => {
      if (!pending.has(id)) return;
      pending.delete(id);
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => finish({ status: 'aborted' });
    pending.set(id, { kind, name, settle: finish });
    if (signal.aborted) return finish({ status: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) timer = setTimeout(() => finish({ status: 'timeout' }), timeoutMs);
  });
  return { id, outcome };
}

/** Why a settle call did not land. */
export type SettleFailure = 'unknown' | 'wrong_kind';

/**
 * Deliver a tool result for handle `id`. Returns null on success, or why it failed: no such
 * call (it timed out, its turn ended, the flow was redeployed) or the handle is an approval.
 */
export function settleToolResult(id: string, result: ToolResult): SettleFailure | null {
  const e = pending.get(id);
  if (!e) return 'unknown';
  if (e.kind !== 'result') return 'wrong_kind';
  e.settle({ status: 'result', result });
  return null;
}

/** Approve or deny the held call with approval handle `id`. */
export function settleApproval(id: string, approved: boolean, reason?: string): SettleFailure | null {
  const e = pending.get(id);
  if (!e) return 'unknown';
  if (e.kind !== 'approval') return 'wrong_kind';
  e.settle({ status: 'approval', approved, reason });
  return null;
}

/** The kind of a live handle, or undefined. */
export function pendingKind(id: string): PendingKind | undefined {
  return pending.get(id)?.kind;
}

/** Number of live waits (tests check that nothing leaks). */
export function pendingCount(): number {
  return pending.size;
}
