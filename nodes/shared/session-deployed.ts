/**
 * Whether a channel-in node should tag a message for hand-off (docs/decisions/0160) and wait:
 * a session node is running now, or one is part of the deployed flows (a partial deploy that
 * restarts only the session node leaves a gap with none running; a message sent into that gap
 * would be dropped at the stopped node, so it must be tagged and not confirmed).
 */
import type { NodeAPI } from 'node-red';
import { handoffReceivers } from '../../src/handoff';

export function sessionNodeExpected(RED: NodeAPI): boolean {
  if (handoffReceivers() > 0) return true;
  let found = false;
  (RED.nodes as unknown as { eachNode(cb: (n: { type?: string; d?: boolean }) => void): void }).eachNode((n) => {
    if (n.type === 'clawflow-session' && !n.d) found = true;
  });
  return found;
}
