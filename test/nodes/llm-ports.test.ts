/**
 * The llm node's port layout is computed twice: by src/llm/ports.ts at runtime and by the
 * editor (nodes/llm.html) for `outputs` and `outputLabels`. This runs the editor's copy (the
 * `<port-layout>` block of llm.html) against the runtime's for many tool lists, so the number
 * of ports the editor draws always equals the number the runtime sends.
 */
import { strict as assert } from 'assert';
import fs from 'fs';
import path from 'path';
import { portLayout, type ToolConfig } from '../../src/llm/ports';

const html = fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'llm.html'), 'utf8');
const block = /\/\/ <port-layout>[^\n]*\n([\s\S]*?)\/\/ <\/port-layout>/.exec(html);
if (!block) throw new Error('nodes/llm.html has no <port-layout> block');
// eslint-disable-next-line no-new-func
const editor = new Function(`${block[1]}; return { portLayout: portLayout, portIds: portIds };`)() as {
  portLayout(tools: ToolConfig[], audit: boolean): { outputs: number; approvalPort?: number; firstTool: number; auditPort?: number };
  portIds(tools: Array<ToolConfig & { _key?: string }>, audit: boolean): Array<string | null>;
};

const tool = (name: string, approval = false): ToolConfig => ({ name, approval, schema: '' });

const cases: Array<{ tools: ToolConfig[]; audit: boolean; outputs: number; approval?: number; audit_?: number }> = [
  { tools: [], audit: false, outputs: 2 },
  { tools: [], audit: true, outputs: 3, audit_: 2 },
  { tools: [tool('a')], audit: false, outputs: 3 },
  { tools: [tool('a')], audit: true, outputs: 4, audit_: 3 },
  { tools: [tool('a', true)], audit: false, outputs: 4, approval: 2 },
  { tools: [tool('a', true), tool('b'), tool('c')], audit: true, outputs: 7, approval: 2, audit_: 6 },
  { tools: [tool('a'), tool('b', true)], audit: true, outputs: 6, approval: 2, audit_: 5 },
];

describe('llm port layout (runtime and editor agree)', () => {
  for (const c of cases) {
    const desc = `${c.tools.map((t) => t.name + (t.approval ? '*' : '')).join(',') || 'no tools'}${c.audit ? ' + audit' : ''}`;
    it(`${desc}: ${c.outputs} ports`, () => {
      const rt = portLayout(c.tools, { mcpAudit: c.audit });
      const ed = editor.portLayout(c.tools, c.audit);
      assert.equal(rt.outputs, c.outputs);
      assert.equal(ed.outputs, rt.outputs, 'editor outputs = runtime outputs');
      assert.equal(rt.approvalPort, c.approval);
      assert.equal(ed.approvalPort, rt.approvalPort);
      assert.equal(rt.auditPort, c.audit_);
      assert.equal(ed.auditPort, rt.auditPort);
      c.tools.forEach((t, i) => assert.equal(rt.toolPort(t.name), ed.firstTool + i));
      assert.equal(editor.portIds(c.tools, c.audit).length, rt.outputs, 'one port id per port');
    });
  }

  it('switching the audit port on or off moves no other port', () => {
    const tools = [tool('a', true), tool('b')];
    const off = portLayout(tools, {});
    const on = portLayout(tools, { mcpAudit: true });
    assert.equal(on.outputs, off.outputs + 1);
    assert.equal(on.approvalPort, off.approvalPort);
    for (const t of tools) assert.equal(on.toolPort(t.name), off.toolPort(t.name));
    assert.equal(on.auditPort, off.outputs);
  });

  it('the editor names each port by what it is, so wires can follow a moved port', () => {
    const ids = editor.portIds([{ ...tool('x', true), _key: 'k0' }, { ...tool('y'), _key: 'k1' }, tool('new')], true);
    assert.deepEqual(ids, ['reply', 'error', 'approval', 'tool:k0', 'tool:k1', null, 'audit']);
  });
});
