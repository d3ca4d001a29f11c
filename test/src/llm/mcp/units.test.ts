import assert from 'assert';
import { parseArgs, validateTransportConfig, McpConfigError } from '../../../../src/llm/mcp/config';
import { toToolResult, errorResult } from '../../../../src/llm/mcp/result';
import { modelToolName } from '../../../../src/llm/mcp/names';
import { Backoff } from '../../../../src/llm/mcp/backoff';
import { redact } from '../../../../src/llm/mcp/redact';
import { selectTools } from '../../../../src/llm/mcp/tool-source';
import { mcpNeedsApproval } from '../../../../src/llm/ports';
import type { InProcessTool, ToolSource } from '../../../../src/llm/tool-types';

describe('mcp engine pieces', () => {
  describe('parseArgs', () => {
    it('splits on whitespace and keeps quoted spaces', () => {
      assert.deepStrictEqual(parseArgs(`-y  @scope/pkg --dir "/tmp/a b" 'x y' a\\ b`), ['-y', '@scope/pkg', '--dir', '/tmp/a b', 'x y', 'a b']);
    });
    it('takes a JSON array and an array as they are', () => {
      assert.deepStrictEqual(parseArgs('["a b", "c"]'), ['a b', 'c']);
      assert.deepStrictEqual(parseArgs(['x', 2]), ['x', '2']);
      assert.deepStrictEqual(parseArgs(''), []);
    });
    it('refuses an unclosed quote and bad JSON', () => {
      assert.throws(() => parseArgs('a "b'), McpConfigError);
      assert.throws(() => parseArgs('[1,'), /do not parse/);
    });
  });

  describe('validateTransportConfig', () => {
    it('accepts stdio and http', () => {
      const s = validateTransportConfig({ transport: 'stdio', command: ' node ', args: 'a b', env: { A_B: 1 } });
      assert.deepStrictEqual(s, { transport: 'stdio', command: 'node', args: ['a', 'b'], env: { A_B: '1' }, cwd: undefined });
      const h = validateTransportConfig({ transport: 'http', url: 'http://127.0.0.1:1/mcp', headers: { Authorization: 'x' } });
      assert.strictEqual(h.transport, 'http');
    });
    it('names the field to fix', () => {
      assert.throws(() => validateTransportConfig({ transport: 'stdio' }), /needs a command/);
      assert.throws(() => validateTransportConfig({ transport: 'http', url: 'nope' }), /valid URL/);
      assert.throws(() => validateTransportConfig({ transport: 'http', url: 'ftp://x/' }), /http:\/\/ or https:/);
      assert.throws(() => validateTransportConfig({ transport: 'http', url: 'http://u:p@x/' }), /secret header/);
      assert.throws(() => validateTransportConfig({ transport: 'stdio', command: 'x', env: { 'A-B': '1' } }), /env name "A-B"/);
      assert.throws(() => validateTransportConfig({ transport: 'http', url: 'http://x/', headers: { 'a b': '1' } }), /header name/);
      assert.throws(() => validateTransportConfig({ transport: 'ws' }), /"stdio" or "http"/);
    });
  });

  describe('toToolResult', () => {
    it('joins text and JSON-encodes structured content', () => {
      const r = toToolResult({ content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], structuredContent: { sum: 3 } });
      assert.deepStrictEqual(r, { content: 'a\nb\n{"sum":3}', structured: { sum: 3 } });
    });
    it('does not repeat structured content already given as text', () => {
      const r = toToolResult({ content: [{ type: 'text', text: '{"sum":3}' }], structuredContent: { sum: 3 } });
      assert.strictEqual(r.content, '{"sum":3}');
    });
    it('keeps isError and describes non-text blocks', () => {
      const r = toToolResult({ isError: true, content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] });
      assert.deepStrictEqual(r, { content: '[image image/png content not shown]', isError: true });
      assert.deepStrictEqual(errorResult('x'), { content: 'x', isError: true });
    });
    it('maps the old toolResult form', () => {
      assert.deepStrictEqual(toToolResult({ toolResult: { a: 1 } }), { content: '{"a":1}', structured: { a: 1 } });
    });
  });

  it('modelToolName makes valid, unique names', () => {
    const taken = new Set<string>();
    assert.strictEqual(modelToolName('echo', taken), 'echo');
    assert.strictEqual(modelToolName('fs.read file', taken), 'fs_read_file');
    assert.strictEqual(modelToolName('fs/read_file', taken), 'fs_read_file_2');
    const long = modelToolName('x'.repeat(80), taken);
    assert.strictEqual(long.length, 64);
  });

  it('Backoff grows to its cap and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    assert.deepStrictEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
    b.reset();
    assert.strictEqual(b.next(), 100);
    const j = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 });
    for (let i = 0; i < 20; i++) assert.ok(j.next() <= 1000);
  });

  it('redact hides secrets but not short values', () => {
    assert.strictEqual(redact('token sk-abc123 and ab', ['sk-abc123', 'ab']), 'token *** and ab');
  });

  describe('selectTools', () => {
    const mk = (src: string, names: string[]): ToolSource => ({
      name: src,
      listTools: () => names.map((n): InProcessTool => ({ name: n, description: '', inputSchema: {}, source: `mcp:${src}`, run: async () => ({ content: '' }) })),
    });
    it('offers nothing without an allowlist', () => {
      assert.deepStrictEqual(selectTools([mk('a', ['x', 'y'])], []).tools, []);
    });
    it('offers only listed tools, reports missing and duplicates', () => {
      const sel = selectTools([mk('a', ['x', 'y']), mk('b', ['x', 'z'])], ['x', 'b/z', 'gone']);
      assert.deepStrictEqual(sel.tools.map((t) => `${t.source}/${t.name}`), ['mcp:a/x', 'mcp:b/z']);
      assert.deepStrictEqual(sel.missing, ['gone']);
      assert.deepStrictEqual(sel.duplicates, ['b/x']);
    });
    it("a renamed tool (my.tool -> my_tool) is listed by either name, and its approval entry by either name holds it", () => {
      const renamed: ToolSource = {
        name: 'srv',
        listTools: () => [{ name: 'my_tool', originalName: 'my.tool', description: '', inputSchema: {}, source: 'mcp:srv', run: async () => ({ content: '' }) }],
      };
      for (const entry of ['my.tool', 'srv/my.tool', 'my_tool', 'srv/my_tool']) {
        const sel = selectTools([renamed], [entry]);
        assert.deepStrictEqual(sel.tools.map((t) => t.name), ['my_tool'], entry);
        assert.deepStrictEqual(sel.missing, [], entry);
      }
      for (const entry of ['my.tool', 'srv/my.tool', 'my_tool']) assert.ok(mcpNeedsApproval([entry], 'srv', 'my_tool', 'my.tool'), entry);
      assert.ok(!mcpNeedsApproval(['other'], 'srv', 'my_tool', 'my.tool'));
    });
  });
});

describe('resolveServerSettings', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { resolveServerSettings } = require('../../../../src/llm/mcp/settings');
  it('takes secret values from their credential slots and lists them for redaction', () => {
    const r = resolveServerSettings(
      { transport: 'stdio', command: 'x', args: 'a', env: [{ name: 'TOKEN', secret: true, slot: 2 }, { name: 'MODE', value: 'dev' }, { name: ' ', value: 'skip' }] },
      { secret2: 'tok-123456' },
    );
    assert.deepStrictEqual(r, { transport: { transport: 'stdio', command: 'x', args: 'a', cwd: undefined, env: { TOKEN: 'tok-123456', MODE: 'dev' } }, secrets: ['tok-123456'] });
  });
  it('maps http headers; a missing or out-of-range slot gives an empty value', () => {
    const r = resolveServerSettings(
      { transport: 'http', url: 'http://127.0.0.1/mcp', headers: [{ name: 'Authorization', secret: true, slot: 0 }, { name: 'X-Bad', secret: true, slot: 99 }] },
      { secret0: 'Bearer abcdef' },
    );
    assert.deepStrictEqual(r, { transport: { transport: 'http', url: 'http://127.0.0.1/mcp', headers: { Authorization: 'Bearer abcdef', 'X-Bad': '' } }, secrets: ['Bearer abcdef', 'abcdef'] });
  });
  it('a secret header with an auth scheme is hidden also when a server echoes only the token', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { redact } = require('../../../../src/llm/mcp/redact');
    const r = resolveServerSettings(
      { transport: 'http', url: 'http://127.0.0.1/mcp', headers: [{ name: 'Authorization', secret: true, slot: 0 }] },
      { secret0: 'Bearer mcp-token-888' },
    );
    const text = redact('HTTP 400: bad request, unknown token mcp-token-888 (you sent Bearer mcp-token-888)', r.secrets);
    assert.ok(!text.includes('mcp-token-888'), text);
  });
});
