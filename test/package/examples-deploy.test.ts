/**
 * Every example flow deploys as-is into a running Node-RED (admin API, full deploy) and reaches
 * a running state with no errors but the documented missing credentials. This is what a user
 * does after Import > Examples and Deploy.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { startNodeRed, repoRoot, type NodeRedProcess } from '../support/node-red-process';

const dir = path.join(repoRoot, 'examples');
const examples = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

/** Errors an example may log before the user fills in its credentials. */
const CREDENTIAL_ERRORS = /token|api key|credential|not configured|missing .*key|unauthori[sz]ed|401/i;

describe('example flows deploy as-is', function () {
  this.timeout(5 * 60 * 1000);
  let nr: NodeRedProcess;

  before(async function () {
    if (!fs.existsSync(path.join(repoRoot, 'dist', 'nodes'))) {
      throw new Error('dist/nodes is missing: run `npm run build` (npm test does it)');
    }
    nr = await startNodeRed({ linkPackage: true });
  });
  after(async () => nr?.stop());

  it('has example flows', () => {
    assert.ok(examples.length > 0, 'no examples/*.json');
  });

  for (const file of examples) {
    it(`${file} deploys and starts without unexpected errors`, async () => {
      const flow = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      assert.ok(Array.isArray(flow) && flow.length > 0, 'an example is a non-empty array of nodes');
      assert.ok(
        flow.some((n: any) => n.type === 'comment' && String(n.info || n.name || '').length > 20),
        'has a comment node saying what to fill in and what to try',
      );
      const before = nr.log().length;
      const res = await fetch(`${nr.url}/flows`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v2' },
        body: JSON.stringify({ flows: flow }),
      });
      assert.strictEqual(res.status, 200, `deploy refused: ${await res.text()}`);
      // Wait until the runtime says the flows started.
      const deadline = Date.now() + 20_000;
      while (!/Started flows/.test(nr.log().slice(before)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500)); // let nodes connect and report
      const log = nr.log().slice(before);
      assert.match(log, /Started flows/, `flows did not start:\n${log}`);
      assert.doesNotMatch(log, /Waiting for missing types|Unknown type/i, `example uses a type that is not installed:\n${log}`);
      const errors = log.split('\n').filter((l) => /\[error\]/.test(l) && !CREDENTIAL_ERRORS.test(l));
      assert.deepStrictEqual(errors, [], `unexpected errors after deploying ${file}`);
      const state = await fetch(`${nr.url}/flows/state`, { headers: { 'Node-RED-API-Version': 'v2' } });
      if (state.status === 200) assert.notStrictEqual(((await state.json()) as any).state, 'stop');
    });
  }
});
