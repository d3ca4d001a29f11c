/**
 * Install the packed tarball the way users do: through the palette manager's upload
 * (POST /nodes, multipart field `tarball`) into a fresh Node-RED, then check that every node
 * type registers, that icons and help are served, and that the examples are listed.
 * Needs the npm registry for the package's dependencies (CI has it).
 */
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { execFileSync } from 'child_process';
import { startNodeRed, registeredTypes, repoRoot, type NodeRedProcess } from '../support/node-red-process';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));

function packTarball(dest: string): string {
  if (!fs.existsSync(path.join(repoRoot, 'dist'))) {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'build.js')], { stdio: 'inherit' });
  }
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  return path.join(dest, info.filename);
}

describe('palette install of the packed tarball', function () {
  this.timeout(10 * 60 * 1000);
  let nr: NodeRedProcess;
  let tmp: string;
  let installInfo: any;
  const expected = registeredTypes();

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawflow-pack-'));
    const tarball = packTarball(tmp);
    nr = await startNodeRed();
    const form = new FormData();
    form.append('tarball', new Blob([fs.readFileSync(tarball)], { type: 'application/gzip' }), path.basename(tarball));
    const res = await fetch(`${nr.url}/nodes`, { method: 'POST', body: form, headers: { 'Node-RED-API-Version': 'v2' } });
    const body = await res.text();
    assert.strictEqual(res.status, 200, `palette upload failed (${res.status}): ${body}\n${nr.log().slice(-3000)}`);
    installInfo = JSON.parse(body);
  });

  after(async () => {
    await nr?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('installs as module @clawflow/node-red with every node set enabled and no load error', async () => {
    assert.strictEqual(installInfo.name, pkg.name);
    const res = await fetch(`${nr.url}/nodes`, { headers: { Accept: 'application/json' } });
    const sets = ((await res.json()) as any[]).filter((s) => s.module === pkg.name);
    assert.strictEqual(sets.length, Object.keys(pkg['node-red'].nodes).length, 'one node set per package.json entry');
    for (const s of sets) {
      assert.ok(s.enabled, `${s.id} is disabled`);
      assert.ok(!s.err, `${s.id} failed to load: ${s.err}`);
    }
  });

  it('registers every node type our editor files declare', async () => {
    const res = await fetch(`${nr.url}/nodes`, { headers: { Accept: 'application/json' } });
    const types = ((await res.json()) as any[]).filter((s) => s.module === pkg.name).flatMap((s) => s.types);
    assert.deepStrictEqual([...types].sort(), expected.map((t) => t.type).sort());
  });

  it('serves each node icon', async () => {
    const icons = new Set<string>();
    for (const f of fs.readdirSync(path.join(repoRoot, 'nodes')).filter((n) => n.endsWith('.html'))) {
      const html = fs.readFileSync(path.join(repoRoot, 'nodes', f), 'utf8');
      for (const m of html.matchAll(/\bicon\s*:\s*['"]([^'"]+\.(?:svg|png))['"]/g)) icons.add(m[1]);
    }
    for (const icon of icons) {
      const res = await fetch(`${nr.url}/icons/${pkg.name}/${icon}`);
      assert.strictEqual(res.status, 200, `icon ${icon} not served`);
      assert.match(res.headers.get('content-type') || '', /image\//);
    }
  });

  it('serves help text for every node type in en-US and zh-CN', async () => {
    for (const lang of ['en-US', 'zh-CN']) {
      const res = await fetch(`${nr.url}/nodes?lng=${lang}`, { headers: { Accept: 'text/html' } });
      const html = await res.text();
      for (const { type } of expected) {
        const m = new RegExp(`data-help-name=["']${type}["'][^>]*>([\\s\\S]*?)</script>`).exec(html);
        assert.ok(m, `no help for ${type} (${lang})`);
        assert.ok(m[1].replace(/<[^>]+>/g, '').trim().length > 80, `help for ${type} (${lang}) is too thin`);
      }
    }
  });

  it('lists our example flows under Import > Examples', async () => {
    const files = fs.readdirSync(path.join(repoRoot, 'examples')).filter((f) => f.endsWith('.json'));
    const res = await fetch(`${nr.url}/library/examples/flows/${pkg.name}`);
    assert.strictEqual(res.status, 200);
    const listing = JSON.stringify(await res.json());
    for (const f of files) assert.ok(listing.includes(f.replace(/\.json$/, '')), `example ${f} not listed: ${listing}`);
  });
});
