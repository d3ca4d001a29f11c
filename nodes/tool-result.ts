/**
 * `clawflow-tool-result`: hands `msg.payload` back to the llm turn waiting for the call on
 * `msg.toolCall.id` (set by the llm node's tool port). A message that comes from a Catch
 * node (`msg.error` set) becomes an error result, so a failing tool flow still answers.
 * The same node answers approval requests: `msg.approved` true/false (or a yes/no payload).
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { pendingKind, settleApproval, settleToolResult } from '../src/llm/pending';
import type { ToolResult } from '../src/llm/tool-types';

/** Text the model reads for a payload of any type. */
function toContent(payload: unknown): string {
  if (payload === undefined || payload === null) return '';
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  try {
    return JSON.stringify(payload);
  } catch {
    return String(payload);
  }
}

/** A Catch message's error for the model, marked once (a function node's says "Error: ..." itself). */
function errorText(message: unknown): string {
  const text = typeof message === 'string' ? message : toContent(message);
  return /^\s*error\b/i.test(text) ? text : `Error: ${text}`;
}

function approvedFrom(msg: any): boolean {
  if (typeof msg.approved === 'boolean') return msg.approved;
  const p = msg.payload;
  if (typeof p === 'boolean') return p;
  return typeof p === 'string' && /^\s*(y|yes|ok|approve|approved|allow|true)\s*$/i.test(p);
}

export = function (RED: NodeAPI) {
  function ToolResultNode(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (k: string, o?: object) => RED._(`clawflow-tool-result.${k}`, o as any);
    let delivered = 0;
    node.on('input', (msg: any, _send: unknown, done: (err?: Error) => void) => {
      const id = msg?.toolCall?.id;
      if (typeof id !== 'string' || !id) return done(new Error(t('errors.noId')));
      const kind = pendingKind(id);
      if (!kind) return done(new Error(t('errors.unknown', { name: msg.toolCall.name ?? '?', id })));
      let failure;
      if (kind === 'approval') {
        const reason = typeof msg.reason === 'string' ? msg.reason : undefined;
        failure = settleApproval(id, approvedFrom(msg), reason);
      } else {
        const result: ToolResult = msg.error
          ? { content: errorText(msg.error.message ?? toContent(msg.error)), isError: true }
          : { content: toContent(msg.payload), isError: msg.toolCall.isError === true ? true : undefined };
        failure = settleToolResult(id, result);
      }
      if (failure) return done(new Error(t('errors.unknown', { name: msg.toolCall.name ?? '?', id })));
      delivered++;
      node.status({ fill: 'green', shape: 'dot', text: t('status.delivered', { n: delivered }) });
      done();
    });
  }
  RED.nodes.registerType('clawflow-tool-result', ToolResultNode as any);
};
