#!/usr/bin/env node
// bench-startup.mjs — what heapgap's CLI costs before it does anything:
// `node dist/cli/main.js --version` vs `node -e 0`, alternating, medians and their ratio.
//
//   node scripts/bench-startup.mjs [--runs 20] [--json]
//
// Both are spawned the same way (execa, same node binary, stdin ignored, output buffered) and timed
// from spawn to exit with performance.now(). One untimed warm-up run of each comes first so the
// page cache holds the files. Nothing here asserts on time: it reports figures.
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

function parseArgs(argv) {
  const o = { runs: 20, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs' && i + 1 < argv.length) {
      o.runs = Number(argv[++i]);
      if (!Number.isInteger(o.runs) || o.runs < 1) fail(`--runs: expected a positive integer, got ${argv[i]}`);
    } else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/bench-startup.mjs [--runs 20] [--json]');
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  return o;
}

function fail(msg) {
  console.error(`bench-startup: ${msg}\nusage: node scripts/bench-startup.mjs [--runs 20] [--json]`);
  process.exit(2);
}

const stats = (xs) => summary(xs, 2);
const r2 = (x) => Math.round(x * 100) / 100;

async function timeOnce(args) {
  const t0 = performance.now();
  const r = await execa(process.execPath, args, { stdin: 'ignore', reject: false, cwd: ROOT });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`node ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return { ms, stdout: r.stdout.trim() };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) fail('dist/cli/main.js is missing; build first: npx tsc -p tsconfig.json');
  const variants = [
    { name: 'heapgap --version', args: [CLI, '--version'] },
    { name: 'node -e 0', args: ['-e', '0'] },
  ];
  const version = (await timeOnce(variants[0].args)).stdout;
  await timeOnce(variants[1].args);
  const times = variants.map(() => []);
  const load = [loadavg()[0]];
  for (let i = 0; i < opts.runs; i++) {
    // alternate which goes first so neither always runs right after the other
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) times[k].push((await timeOnce(variants[k].args)).ms);
  }
  load.push(loadavg()[0]);
  const results = variants.map((v, k) => ({ name: v.name, command: `node ${v.args.join(' ')}`, ms: stats(times[k]), samples: times[k].map(r2) }));
  const ratio = r2(results[0].ms.median / results[1].ms.median);
  const doc = {
    bench: 'startup',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg1: load.map(r2) },
    heapgapVersion: version,
    runs: opts.runs,
    results,
    ratio,
    extraMs: r2(results[0].ms.median - results[1].ms.median),
  };
  const rows = results.map((r) => [r.name, String(r.ms.n), r.ms.median.toFixed(1), `${r.ms.min.toFixed(1)}–${r.ms.max.toFixed(1)}`]);
  const head = ['command', 'runs', 'median ms', 'min–max ms'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c) => c.map((x, i) => x.padEnd(w[i])).join('  ');
  const text = [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line), `ratio heapgap/node: ${ratio.toFixed(2)} (+${doc.extraMs.toFixed(1)} ms)  load avg ${load.map((l) => l.toFixed(2)).join(' -> ')}`].join('\n');
  if (opts.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else process.stdout.write(`${text}\n`);
}

await main();
