#!/usr/bin/env node
// `npm test` (after the build): one mocha run over every suite, so the run ends with mocha's
// own summary line. Engine tests first, then nodes (node-red 4), the same node tests on the
// node-red 5 runtime (test/node-red-5.test.ts), the package/palette tests and browser tests.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const specs = [
  'test/src/**/*.test.ts',
  'test/nodes/**/*.test.ts',
  'test/node-red-5.test.ts',
  'test/package/**/*.test.ts',
  'test/browser/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/security/**/*.test.ts',
];
const mocha = require.resolve('mocha/bin/mocha.js', { paths: [root] });
const res = spawnSync(process.execPath, [mocha, ...specs, ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(res.status === null ? 1 : res.status);
