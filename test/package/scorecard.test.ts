/**
 * The Node-RED Flow Library scorecard rules that can be checked offline, plus our own
 * packaging rules: what `npm pack` ships, and that every node has its editor, help and
 * messages in both languages.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import semver from 'semver';
import { execFileSync } from 'child_process';
import { registeredTypes, repoRoot } from '../support/node-red-process';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const nodeRed5 = require('node-red-5/package.json').version as string;
const nodeRed4 = require('node-red/package.json').version as string;
const LANGS = ['en-US', 'zh-CN'];

function exampleFlows(): { file: string; nodes: any[] }[] {
  const dir = path.join(repoRoot, 'examples');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ file: f, nodes: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

describe('Flow Library scorecard (offline rules)', () => {
  it('P01 has a license', () => {
    assert.ok(pkg.license, 'package.json license');
    assert.ok(fs.existsSync(path.join(repoRoot, 'LICENSE')), 'LICENSE file');
  });
  it('P02 has a repository', () => {
    assert.ok(pkg.repository && (pkg.repository.url || typeof pkg.repository === 'string'));
  });
  it('P03 is named with a scope (not node-red-contrib-* squatting)', () => {
    assert.match(pkg.name, /^@[a-z0-9-]+\/[a-z0-9-]+$/);
  });
  it('P04 has the node-red keyword', () => {
    assert.ok(pkg.keywords.includes('node-red'));
  });
  it('P05 node-red.version covers the current 4.x and 5.x', () => {
    assert.ok(semver.satisfies(nodeRed5, pkg['node-red'].version), `${pkg['node-red'].version} vs ${nodeRed5}`);
    assert.ok(semver.satisfies(nodeRed4, pkg['node-red'].version), `${pkg['node-red'].version} vs ${nodeRed4}`);
  });
  it('P06 engines.node is satisfiable by Node 22.9 (node-red 5) and Node 20', () => {
    assert.ok(semver.satisfies('22.9.0', pkg.engines.node));
    assert.ok(semver.satisfies('20.19.0', pkg.engines.node));
  });
  it('P07 does not depend on node-red itself at runtime, and has a README', () => {
    assert.ok(!pkg.dependencies?.['node-red'] && !pkg.peerDependencies?.['node-red']);
    assert.ok(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').length > 500);
  });
  it('N01 node types are unique and prefixed clawflow-', () => {
    const types = registeredTypes().map((t) => t.type);
    assert.deepStrictEqual(types, [...new Set(types)], 'duplicate type');
    for (const t of types) assert.match(t, /^clawflow-[a-z0-9-]+$/);
  });
  it('N02 every non-config node appears in at least one example flow', () => {
    const used = new Set(exampleFlows().flatMap((e) => e.nodes.map((n: any) => n.type)));
    const missing = registeredTypes()
      .filter((t) => t.category !== 'config')
      .map((t) => t.type)
      .filter((t) => !used.has(t));
    assert.deepStrictEqual(missing, [], 'node types in no example');
  });
  it('each editor file has an inline, literal RED.nodes.registerType for a clawflow- type', () => {
    for (const f of fs.readdirSync(path.join(repoRoot, 'nodes')).filter((n) => n.endsWith('.html'))) {
      const html = fs.readFileSync(path.join(repoRoot, 'nodes', f), 'utf8');
      assert.match(html, /<script type="text\/javascript">[\s\S]*RED\.nodes\.registerType\(\s*'clawflow-[a-z0-9-]+'\s*,\s*\{/, f);
    }
  });
});

describe('package contents', () => {
  it('every package.json node set has its runtime, editor and locale files', () => {
    const sets = pkg['node-red'].nodes as Record<string, string>;
    for (const [name, file] of Object.entries(sets)) {
      assert.match(name, /^clawflow-/);
      const base = path.basename(file, '.js');
      assert.strictEqual(file, `dist/nodes/${base}.js`, `${name}: compiled runtime lives in dist/nodes`);
      for (const f of [`nodes/${base}.ts`, `nodes/${base}.html`]) assert.ok(fs.existsSync(path.join(repoRoot, f)), `${name}: ${f}`);
      for (const lang of LANGS) {
        for (const ext of ['json', 'html']) {
          const f = path.join(repoRoot, 'locales', lang, `${base}.${ext}`);
          assert.ok(fs.existsSync(f), `${name}: locales/${lang}/${base}.${ext}`);
        }
      }
    }
  });

  it('every node type has messages and help in both languages with the same keys', () => {
    const flat = (o: any, p = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? flat(v, `${p}${k}.`) : [`${p}${k}`]));
    for (const base of new Set(registeredTypes().map((t) => t.file.replace(/\.html$/, '')))) {
      const [en, zh] = LANGS.map((l) => JSON.parse(fs.readFileSync(path.join(repoRoot, 'locales', l, `${base}.json`), 'utf8')));
      assert.deepStrictEqual(flat(zh).sort(), flat(en).sort(), `${base}: zh-CN and en-US message keys differ`);
    }
    for (const { type, file } of registeredTypes()) {
      const base = file.replace(/\.html$/, '');
      for (const lang of LANGS) {
        const help = fs.readFileSync(path.join(repoRoot, 'locales', lang, `${base}.html`), 'utf8');
        assert.ok(help.includes(`data-help-name="${type}"`), `${type}: help in ${lang}`);
      }
    }
  });

  it('npm pack ships only what runs: no tests, sources, maps, user dirs', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: repoRoot, encoding: 'utf8' });
    const files: string[] = JSON.parse(out.slice(out.indexOf('[')))[0].files.map((f: any) => f.path);
    const bad = files.filter(
      (f) => /^(test|src|nodes|bench|scripts|docs)\//.test(f) || /\.map$|\.ts$(?<!\.d\.ts)|\.node-red|\.env|flows_cred/.test(f),
    );
    assert.deepStrictEqual(bad, []);
    assert.ok(files.includes('package.json') && files.includes('README.md') && files.includes('LICENSE'));
    for (const file of Object.values(pkg['node-red'].nodes) as string[]) assert.ok(files.includes(file), `${file} not packed`);
  });
});
