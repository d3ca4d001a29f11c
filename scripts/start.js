#!/usr/bin/env node
// `npm start`: build, then run a local Node-RED 4.1 (the devDependency) on 127.0.0.1
// with this package installed in a git-ignored user dir (.node-red-dev/), so its nodes
// are in the palette and its flows under Import > Examples. Ctrl-C stops it cleanly.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const port = Number(process.env.CLAWFLOW_PORT || process.env.PORT || 1880);
const host = process.env.CLAWFLOW_HOST || '127.0.0.1';
const userDir = path.resolve(process.env.CLAWFLOW_USER_DIR || path.join(root, '.node-red-dev'));

function portIsFree(p, h) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(p, h, () => srv.close(() => resolve(true)));
  });
}

function prepareUserDir() {
  const link = path.join(userDir, 'node_modules', '@clawflow', 'node-red');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  try {
    const current = fs.readlinkSync(link);
    if (path.resolve(path.dirname(link), current) !== root) fs.unlinkSync(link);
  } catch {
    /* no link yet */
  }
  if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');
  const pkgFile = path.join(userDir, 'package.json');
  if (!fs.existsSync(pkgFile)) {
    fs.writeFileSync(pkgFile, JSON.stringify({ name: 'clawflow-dev-userdir', private: true, dependencies: {} }, null, 2));
  }
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(
    settingsFile,
    `// Written by scripts/start.js on every start; edit scripts/start.js instead.\n` +
      `module.exports = {\n` +
      `  uiHost: ${JSON.stringify(host)},\n` +
      `  uiPort: ${port},\n` +
      `  flowFile: 'flows.json',\n` +
      `  credentialSecret: process.env.CLAWFLOW_CREDENTIAL_SECRET || 'clawflow-dev-only-secret',\n` +
      `  logging: { console: { level: 'info', metrics: false, audit: false } },\n` +
      `  editorTheme: { projects: { enabled: false }, tours: false },\n` +
      `};\n`,
  );
  return settingsFile;
}

async function main() {
  if (!(await portIsFree(port, host))) {
    console.error(
      `\nPort ${port} on ${host} is already in use (another Node-RED?).\n` +
        `Choose another port with the CLAWFLOW_PORT environment variable, e.g.\n\n` +
        `    CLAWFLOW_PORT=${port + 1} npm start\n`,
    );
    process.exit(1);
  }
  execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit' });
  const settingsFile = prepareUserDir();
  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  console.log(`\nStarting Node-RED on http://${host}:${port}/  (user dir: ${path.relative(root, userDir) || userDir})`);
  console.log('Import > Examples > @clawflow/node-red has the example flows. Ctrl-C stops it.\n');
  const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsFile, '--port', String(port)], {
    stdio: 'inherit',
    cwd: userDir,
  });
  let stopping = false;
  const stop = (sig) => {
    if (stopping) return;
    stopping = true;
    child.kill(sig);
    // Node-RED closes its flows on SIGINT/SIGTERM; force it if it hangs.
    setTimeout(() => child.kill('SIGKILL'), 10000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  child.on('exit', (code, signal) => {
    if (stopping) console.log('\nNode-RED stopped.');
    process.exit(stopping ? 0 : code ?? (signal ? 1 : 0));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
