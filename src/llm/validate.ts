/**
 * Tool arguments from a model are untrusted input: they may be bad JSON, not an object, or
 * break the tool's JSON Schema. This turns them into either validated arguments or a short
 * error text that goes back to the model as the tool's result (it can then fix its call).
 */
import Ajv, { ValidateFunction } from 'ajv';
import type { ToolDefinition } from './tool-types';

const ajv = new Ajv({ allErrors: true, strict: false });

/** A compiled validator per schema object (schemas are compiled once, at node start). */
const cache = new WeakMap<object, ValidateFunction>();

/** Compile a tool's schema; throws a clear error naming the tool when the schema is invalid. */
export function compileToolSchema(def: ToolDefinition): ValidateFunction {
  const schema = def.inputSchema;
  const hit = cache.get(schema);
  if (hit) return hit;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new Error(`tool "${def.name}": the arguments schema must be a JSON Schema object`);
  }
  if (schema.type !== undefined && schema.type !== 'object') {
    throw new Error(`tool "${def.name}": the arguments schema must have "type": "object" (providers pass arguments as an object)`);
  }
  let fn: ValidateFunction;
  try {
    fn = ajv.compile(schema);
  } catch (err) {
    throw new Error(`tool "${def.name}": invalid JSON Schema for the arguments: ${(err as Error).message}`);
  }
  cache.set(schema, fn);
  return fn;
}

/** Largest arguments accepted from a model, in characters of JSON (decision 0190). */
export const MAX_ARGUMENT_CHARS = 256 * 1024;
/** Deepest nesting accepted: deeper objects overflow the stack when Node-RED clones msg. */
export const MAX_ARGUMENT_DEPTH = 64;

/**
 * Walk parsed arguments without recursion and name the first problem: too deep, too large,
 * or a key that rewrites prototypes when a flow merges the object (`__proto__`,
 * `constructor.prototype`). JSON.parse keeps such keys as plain data; a deep merge or
 * `Object.assign` further down a flow does not.
 */
function shapeProblem(root: object): string | undefined {
  const stack: { v: unknown; depth: number }[] = [{ v: root, depth: 1 }];
  let chars = 0;
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (typeof v === 'string') chars += v.length + 2;
    else if (v === null || typeof v !== 'object') chars += 8;
    else {
      if (depth > MAX_ARGUMENT_DEPTH) return `the arguments are nested deeper than ${MAX_ARGUMENT_DEPTH} levels`;
      const arr = Array.isArray(v);
      for (const key of Object.keys(v)) {
        if (!arr) {
          if (key === '__proto__') return 'the arguments contain the key "__proto__", which is not allowed';
          const inner = (v as Record<string, unknown>)[key];
          if (key === 'constructor' && inner && typeof inner === 'object' && Object.prototype.hasOwnProperty.call(inner, 'prototype')) {
            return 'the arguments contain "constructor.prototype", which is not allowed';
          }
          chars += key.length + 4;
        }
        stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1 });
      }
    }
    if (chars > MAX_ARGUMENT_CHARS) return `the arguments are too large (more than ${MAX_ARGUMENT_CHARS} characters)`;
  }
  return undefined;
}

export type ArgsCheck = { ok: true; args: Record<string, unknown> } | { ok: false; error: string };

/** Parse (if a string) and validate a model's arguments for `def`. */
export function checkArguments(def: ToolDefinition, raw: string | Record<string, unknown> | undefined): ArgsCheck {
  let args: unknown = raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') args = {};
    else if (text.length > MAX_ARGUMENT_CHARS) {
      return { ok: false, error: `the arguments are too large (${text.length} characters, at most ${MAX_ARGUMENT_CHARS}); call ${def.name} with less data` };
    } else {
      try {
        args = JSON.parse(text);
      } catch (err) {
        return { ok: false, error: `the arguments are not valid JSON (${(err as Error).message.slice(0, 160)}); call ${def.name} again with a JSON object` };
      }
    }
  }
  if (args == null) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    return { ok: false, error: `the arguments must be a JSON object, got ${Array.isArray(args) ? 'an array' : typeof args}` };
  }
  const problem = shapeProblem(args as object);
  if (problem) return { ok: false, error: `${problem}; call ${def.name} again with plain, smaller arguments` };
  const validate = compileToolSchema(def);
  if (!validate(args)) {
    const why = (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; ');
    return { ok: false, error: `the arguments do not match the schema of ${def.name}: ${why.slice(0, 1000)}` };
  }
  return { ok: true, args: args as Record<string, unknown> };
}
