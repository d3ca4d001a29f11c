import { strict as assert } from 'assert';
import { checkArguments, MAX_ARGUMENT_CHARS, MAX_ARGUMENT_DEPTH } from '../../src/llm/validate';
import type { ToolDefinition } from '../../src/llm/tool-types';

// Tool arguments come from a model, which may be steered by whoever wrote the user's message.
const open: ToolDefinition = { name: 'lookup', description: 'any object', inputSchema: { type: 'object' } };

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

describe('security: tool arguments from a model', () => {
  it('refuses __proto__ keys at any depth, and Object.prototype stays clean', () => {
    for (const raw of [
      '{"__proto__": {"polluted": 1}}',
      '{"q": {"deep": [{"__proto__": {"polluted": 1}}]}}',
    ]) {
      const r = checkArguments(open, raw);
      assert.equal(r.ok, false, raw);
      assert.match((r as { error: string }).error, /__proto__/);
    }
    // An object (Anthropic/Ollama hand arguments over parsed) is checked the same way.
    const obj = JSON.parse('{"x": {"__proto__": {"polluted": 1}}}');
    assert.equal(checkArguments(open, obj).ok, false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses constructor.prototype (the other path naive deep merges pollute through)', () => {
    const r = checkArguments(open, '{"constructor": {"prototype": {"polluted": 1}}}');
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /constructor/);
    // A plain property named constructor (a string) is fine.
    assert.equal(checkArguments(open, '{"constructor": "Ada"}').ok, true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses arguments nested deeper than the limit, with an error the model can act on', () => {
    const r = checkArguments(open, nested(MAX_ARGUMENT_DEPTH + 1));
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /nested deeper than/);
    // 100,000 levels: must not overflow the stack anywhere (validation, the error text).
    const deep = checkArguments(open, nested(100_000));
    assert.equal(deep.ok, false);
    // Parsed objects too (Ollama, Anthropic).
    assert.equal(checkArguments(open, JSON.parse(nested(100_000))).ok, false);
    // Within the limit is accepted and can be serialised (Node-RED clones msg on send).
    const ok = checkArguments(open, nested(MAX_ARGUMENT_DEPTH - 1));
    assert.equal(ok.ok, true);
    assert.doesNotThrow(() => JSON.stringify((ok as { args: unknown }).args));
  });

  it('refuses huge arguments with a clear error', () => {
    const raw = JSON.stringify({ q: 'x'.repeat(MAX_ARGUMENT_CHARS) });
    const r = checkArguments(open, raw);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /too large/);
    const big = { q: 'x'.repeat(MAX_ARGUMENT_CHARS) };
    assert.equal(checkArguments(open, big).ok, false);
    assert.equal(checkArguments(open, { q: 'x'.repeat(1000) }).ok, true);
  });

  it('the error text does not echo the huge or hostile input back', () => {
    const r = checkArguments(open, '{' + '"k":'.repeat(50_000));
    assert.equal(r.ok, false);
    assert.ok((r as { error: string }).error.length < 500);
  });
});
