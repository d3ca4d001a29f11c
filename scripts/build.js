#!/usr/bin/env node
// Build: compile TypeScript to CommonJS in dist/, then copy the editor files Node-RED
// expects beside each runtime .js (node .html, locales/<lang>/<node>.{json,html}) and
// the static assets under public/. Nothing in dist/ is written by hand.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
    stdio: 'inherit',
    cwd: root,
  });
} catch (err) {
  console.error('build: TypeScript compilation failed (see the errors above).');
  process.exit(1);
}

function copyTree(from, to, filter) {
  if (!fs.existsSync(from)) return 0;
  let n = 0;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      n += copyTree(src, dst, filter);
    } else if (!filter || filter(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
      n++;
    }
  }
  return n;
}

const editorFiles = (name) => /\.(html|css|svg|png|json)$/.test(name);
let copied = 0;
copied += copyTree(path.join(root, 'nodes'), path.join(dist, 'nodes'), editorFiles);
copied += copyTree(path.join(root, 'locales'), path.join(dist, 'nodes', 'locales'), (n) => /\.(json|html)$/.test(n));
// Node-RED looks for icons in an icons/ folder beside the node files.
copied += copyTree(path.join(root, 'icons'), path.join(dist, 'nodes', 'icons'));
copied += copyTree(path.join(root, 'public'), path.join(dist, 'public'));
console.log(`build: compiled to dist/ and copied ${copied} editor/locale/static files`);
