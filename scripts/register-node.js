#!/usr/bin/env node
// Add (or update) one entry of package.json's "node-red".nodes:
//   node scripts/register-node.js <set-name> <path-to-compiled-js>
// e.g. node scripts/register-node.js clawflow-telegram dist/nodes/telegram.js
// A script rather than hand edits so that parallel work on different nodes does not collide.
'use strict';
const fs = require('fs');
const path = require('path');
const [name, file] = process.argv.slice(2);
if (!name || !file) {
  console.error('usage: node scripts/register-node.js <set-name> <dist/nodes/file.js>');
  process.exit(2);
}
const pkgFile = path.resolve(__dirname, '..', 'package.json');
const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
pkg['node-red'].nodes[name] = file;
const sorted = {};
for (const k of Object.keys(pkg['node-red'].nodes).sort()) sorted[k] = pkg['node-red'].nodes[k];
pkg['node-red'].nodes = sorted;
fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');
console.log(`registered ${name} -> ${file}`);
