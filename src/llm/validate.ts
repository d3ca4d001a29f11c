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

export type ArgsCheck = { ok: true; args: Record<string, unknown> } | { ok: false; error: string };

/** Parse (if a string) and validate a model's arguments for `def`. */
export function checkArguments(def: ToolDefinition, raw: string | Record<string, unknown> | undefined): ArgsCheck {
  let args: unknown = raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') args = {};
    else {
      try {
        args = JSON.parse(text);
      } catch (err) {
        return { ok: false, error: `the arguments are not valid JSON (${(err as Error).message}); call ${def.name} again with a JSON object` };
      }
    }
  }
  if (args == null) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    return { ok: false, error: `the arguments must be a JSON object, got ${Array.isArray(args) ? 'an array' : typeof args}` };
  }
  const validate = compileToolSchema(def);
  if (!validate(args)) {
    const why = (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`).join('; ');
    return { ok: false, error: `the arguments do not match the schema of ${def.name}: ${why}` };
  }
  return { ok: true, args: args as Record<string, unknown> };
}
