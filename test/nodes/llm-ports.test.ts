/**
 * The llm node's port layout is computed twice: by src/llm/ports.ts at runtime and by the
 * editor (nodes/llm.html) for `outputs` and `outputLabels`. This runs the editor's copy (the
 * `<port-layout>` block of llm.html) against the runtime's for many tool lists, so the number
 * of ports the editor draws always equals the number the runtime sends.
 */
import { strict as assert } from 'assert';
import fs from 'fs';
import path from 'path';
import { mcpApprovalNames, mcpNeedsApproval, portLayout, type PortOptions, type ToolConfig } from '../../src/llm/ports';

const html = fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'llm.html'), 'utf8');
const block = /\/\/ <port-layout>[^\n]*\n([\s\S]*?)\/\/ <\/port-layout>/.exec(html);
if (!block) throw new Error('nodes/llm.html has no <port-layout> block');
// eslint-disable-next-line no-new-func
const editor = new Function(`${block[1]}; return { portLayout: portLayout, portIds: portIds, mcpApprovalNames: mcpApprovalNames };`)() as {
  portLayout(tools: ToolConfig[], opts: PortOptions): { outputs: number; approvalPort?: number; firstTool: number; auditPort?: number };
  portIds(tools: Array<ToolConfig & { _key?: string }>, opts: PortOptions): Array<string | null>;
  mcpApprovalNames(allow: string[], approval: string[]): string[];
};

const tool = (name: string, approval = false): ToolConfig => ({ name, approval, schema: '' });

const cases: Array<{ tools: ToolConfig[]; audit: boolean; mcp?: { allow: string[]; held: string[] }; outputs: number; approval?: number; audit_?: number }> = [
  { tools: [], audit: false, outputs: 2 },
  { tools: [], audit: true, outputs: 3, audit_: 2 },
  { tools: [tool('a')], audit: false, outputs: 3 },
  { tools: [tool('a')], audit: true, outputs: 4, audit_: 3 },
  { tools: [tool('a', true)], audit: false, outputs: 4, approval: 2 },
  { tools: [tool('a', true), tool('b'), tool('c')], audit: true, outputs: 7, approval: 2, audit_: 6 },
  { tools: [tool('a'), tool('b', true)], audit: true, outputs: 6, approval: 2, audit_: 5 },
  // An allowed MCP tool that needs approval adds the approval port (MCP tools have no port of their own).
  { tools: [], audit: false, mcp: { allow: ['add'], held: ['add'] }, outputs: 3, approval: 2 },
  { tools: [tool('a')], audit: true, mcp: { allow: ['add', 'echo'], held: ['calc/echo'] }, outputs: 5, approval: 2, audit_: 4 },
  { tools: [tool('a', true)], audit: false, mcp: { allow: ['add'], held: ['add'] }, outputs: 4, approval: 2 },
  // Allowed MCP tools without a mark, or a mark on a tool that is not allowed: no approval port.
  { tools: [tool('a')], audit: false, mcp: { allow: ['add'], held: [] }, outputs: 3 },
  { tools: [tool('a')], audit: false, mcp: { allow: ['add'], held: ['echo', 'calc/echo'] }, outputs: 3 },
  { tools: [], audit: true, mcp: { allow: [], held: ['add'] }, outputs: 3, audit_: 2 },
];

describe('llm port layout (runtime and editor agree)', () => {
  for (const c of cases) {
    const mcpDesc = c.mcp ? ` + mcp [${c.mcp.allow.join(',')}] held [${c.mcp.held.join(',')}]` : '';
    const desc = `${c.tools.map((t) => t.name + (t.approval ? '*' : '')).join(',') || 'no tools'}${c.audit ? ' + audit' : ''}${mcpDesc}`;
    it(`${desc}: ${c.outputs} ports`, () => {
      const opts: PortOptions = { mcpAudit: c.audit, mcpTools: c.mcp?.allow, mcpApproval: c.mcp?.held };
      const rt = portLayout(c.tools, opts);
      const ed = editor.portLayout(c.tools, opts);
      assert.equal(rt.outputs, c.outputs);
      assert.equal(ed.outputs, rt.outputs, 'editor outputs = runtime outputs');
      assert.equal(rt.approvalPort, c.approval);
      assert.equal(ed.approvalPort, rt.approvalPort);
      assert.equal(rt.auditPort, c.audit_);
      assert.equal(ed.auditPort, rt.auditPort);
      c.tools.forEach((t, i) => assert.equal(rt.toolPort(t.name), ed.firstTool + i));
      assert.equal(editor.portIds(c.tools, opts).length, rt.outputs, 'one port id per port');
    });
  }

  it('switching the audit port on or off moves no other port', () => {
    const tools = [tool('a', true), tool('b')];
    const off = portLayout(tools, {});
    assert.deepEqual(off.mcpApproval, []);
    const on = portLayout(tools, { mcpAudit: true });
    assert.equal(on.outputs, off.outputs + 1);
    assert.equal(on.approvalPort, off.approvalPort);
    for (const t of tools) assert.equal(on.toolPort(t.name), off.toolPort(t.name));
    assert.equal(on.auditPort, off.outputs);
  });

  it('the editor names each port by what it is, so wires can follow a moved port', () => {
    const ids = editor.portIds([{ ...tool('x', true), _key: 'k0' }, { ...tool('y'), _key: 'k1' }, tool('new')], { mcpAudit: true });
    assert.deepEqual(ids, ['reply', 'error', 'approval', 'tool:k0', 'tool:k1', null, 'audit']);
  });

  it('marking an MCP tool "needs approval" inserts the approval port before the tool ports, so their wires can follow', () => {
    const tools = [{ ...tool('x'), _key: 'k0' }];
    const before = editor.portIds(tools, { mcpTools: ['add'] });
    const after = editor.portIds(tools, { mcpTools: ['add'], mcpApproval: ['add'] });
    assert.deepEqual(before, ['reply', 'error', 'tool:k0']);
    assert.deepEqual(after, ['reply', 'error', 'approval', 'tool:k0']);
    const rt = portLayout(tools, { mcpTools: ['add'], mcpApproval: ['add'] });
    assert.equal(rt.toolPort('x'), after.indexOf('tool:k0'));
  });

  it('an approval mark counts only for an allowed tool, in either name form (runtime and editor agree)', () => {
    const pairs: Array<[string[], string[], string[]]> = [
      [['add'], ['add'], ['add']],
      [['add'], ['calc/add'], ['calc/add']],
      [['calc/add'], ['add'], ['add']],
      [['calc/add'], ['other/add'], []],
      [['add', 'echo'], ['fail', ' echo ', 'echo', ''], ['echo']],
      [[], ['add'], []],
    ];
    for (const [allow, held, want] of pairs) {
      assert.deepEqual(mcpApprovalNames(allow, held), want, `${allow} / ${held}`);
      assert.deepEqual(editor.mcpApprovalNames(allow, held), want, `editor: ${allow} / ${held}`);
    }
    assert.equal(mcpNeedsApproval(['add'], 'calc', 'add'), true);
    assert.equal(mcpNeedsApproval(['calc/add'], 'calc', 'add'), true);
    assert.equal(mcpNeedsApproval(['calc/add'], 'other', 'add'), false);
    assert.equal(mcpNeedsApproval(['add'], 'calc', 'echo'), false);
  });
});
