#!/usr/bin/env node
// `npm run bench`: runs every benchmark part in its own child process (fresh heap, --expose-gc
// for the memory figures), collects their BENCH_RESULT lines and writes BENCHMARKS.md from
// them. No figure in BENCHMARKS.md is typed by hand. `--quick` runs smaller counts (a smoke
// run; it writes clawflow-bench-quick.md in the temp dir instead of BENCHMARKS.md).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const quick = process.argv.includes('--quick');
const full = process.env.CLAWFLOW_BENCH_FULL === '1';
const PART_TIMEOUT_MS = 240000;

/** Run one part; resolves with its parsed BENCH_RESULT (or an error record). */
function part(label, args) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), PART_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      process.stderr.write(`bench: ${label} finished in ${secs} s (exit ${code})\n`);
      if (!line) return resolve({ error: `no result (exit ${code}): ${out.slice(-2000)}` });
      resolve(JSON.parse(line.slice('BENCH_RESULT '.length)));
    });
  });
}

const engine = (store, sessions, messages, extra = []) =>
  part(`engine ${store} ${sessions} sessions`, [
    '--expose-gc', '--import', 'tsx', 'bench/engine.ts',
    '--store', store, '--sessions', String(sessions), '--messages', String(messages), ...extra,
  ]);

/** The Redis store figures (bench/redis-gateway.ts prints its own markdown section). */
function redisPart(messages) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/redis-gateway.ts'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_MESSAGES: String(messages) },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), PART_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      process.stderr.write(`bench: redis finished in ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${code})\n`);
      resolve(code === 0 ? out : `> The Redis part failed (exit ${code}); run \`npx tsx bench/redis-gateway.ts\` to see why.\n`);
    });
  });
}

async function main() {
  const t0 = Date.now();
  const loadStart = os.loadavg()[0];
  const m = quick ? 0.2 : 1;
  const engineRuns = [];
  for (const s of [10, 1000, 100000]) engineRuns.push(await engine('memory', s, Math.round(20000 * m)));
  for (const s of full ? [10, 1000, 10000, 100000] : [10, 1000, 10000]) engineRuns.push(await engine('file', s, Math.round(3000 * m)));
  const wide = await engine('memory', 1000, Math.round(20000 * m), ['--concurrency', '100', '--clients', '100']);
  const pipeline = await part('pipeline (Node-RED)', ['--import', 'tsx', 'bench/pipeline.ts', ...(quick ? ['--quick'] : [])]);
  const redis = await redisPart(quick ? 500 : 2000);

  require('tsx/cjs');
  const { render } = require('./report.ts');
  const md = render({ engineRuns, wide, pipeline, redis, quick, full, totalMs: Date.now() - t0, load: [loadStart, os.loadavg()[0]] });
  const target = quick ? path.join(os.tmpdir(), 'clawflow-bench-quick.md') : path.join(root, 'BENCHMARKS.md');
  fs.writeFileSync(target, md);
  process.stderr.write(`bench: wrote ${target} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  if (pipeline.error || engineRuns.some((r) => r.error)) process.exitCode = 1;
  // A lost message is a bug, not a slow figure: make the run fail so nobody misses it.
  const lost = [pipeline.item1, pipeline.item1t, ...(pipeline.item2 || []), ...(pipeline.item3 || []), ...engineRuns]
    .filter((r) => r && r.lost > 0);
  if (lost.length) {
    process.stderr.write(`bench: MESSAGES LOST in ${lost.length} run(s); see BENCHMARKS.md\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
