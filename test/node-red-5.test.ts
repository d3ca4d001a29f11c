/**
 * Every node test again, on node-red 5.x's runtime (devDependency alias `node-red-5`), so we
 * know both majors users run work. The node tests run in a child mocha with
 * CLAWFLOW_NODE_RED=5 (test/support/node-red.ts picks the runtime); each test file becomes one
 * test here that fails with the child's failures.
 */
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';

const root = path.resolve(__dirname, '..');
const nodeTestDir = path.join(root, 'test', 'nodes');

function nodeTestFiles(): string[] {
  if (!fs.existsSync(nodeTestDir)) return [];
  return (fs.readdirSync(nodeTestDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(nodeTestDir, f))
    .sort();
}

interface MochaJsonTest {
  fullTitle: string;
  file?: string;
  err: { message?: string; stack?: string };
}

describe('node tests on the node-red 5.x runtime', function () {
  const files = nodeTestFiles();
  let report: { stats: { tests: number; failures: number }; tests: MochaJsonTest[]; failures: MochaJsonTest[] };

  before(function () {
    this.timeout(20 * 60 * 1000);
    assert.strictEqual(require('node-red-5/package.json').version.split('.')[0], '5');
    if (files.length === 0) return;
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-nr5-')), 'report.json');
    const mocha = require.resolve('mocha/bin/mocha.js');
    const res = spawnSync(process.execPath, [mocha, '--reporter', 'json', '--reporter-option', `output=${out}`, ...files], {
      cwd: root,
      env: { ...process.env, CLAWFLOW_NODE_RED: '5' },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.ok(fs.existsSync(out), `the node-red 5 child run wrote no report (exit ${res.status}):\n${res.stderr}`);
    report = JSON.parse(fs.readFileSync(out, 'utf8'));
  });

  for (const file of files) {
    it(`${path.relative(root, file)} passes on node-red 5`, function () {
      const mine = (t: MochaJsonTest) => t.file === file;
      const ran = report.tests.filter(mine).length;
      const failed = report.failures.filter(mine);
      assert.ok(ran > 0 || failed.length > 0, 'no test of this file ran on node-red 5');
      assert.deepStrictEqual(
        failed.map((f) => `${f.fullTitle}: ${f.err.message}`),
        [],
        `failures on node-red 5 in ${path.basename(file)}`,
      );
    });
  }

  it('the child run itself reported no failure outside a test (hooks)', function () {
    if (files.length === 0) this.skip(); // nothing to run yet: no node tests exist
    const orphan = report.failures.filter((f) => !f.file || !files.includes(f.file));
    assert.deepStrictEqual(orphan.map((f) => `${f.fullTitle}: ${f.err.message}`), []);
  });
});
