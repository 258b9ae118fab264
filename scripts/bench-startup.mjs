#!/usr/bin/env node
// bench-startup.mjs — what heapgap costs before it does anything, and what a user waits for:
//   1. `dist/cli/main.js --version` vs `node -e 0`;
//   2. `dist/cli/main.js inspect PID --json` on an idle 9-thread C target (fixtures/targets/pinned-threads.c,
//      8 workers parked in pthread_cond_wait, main in pause()) vs gdb's own start,
//      `gdb -nx --batch -ex quit`; inspect again without its code cache (HEAPGAP_CODE_CACHE=off: a
//      command's first run after a build); the phases of inspect from runs of their own with HEAPGAP_DEBUG=1;
// each pair alternating, medians and their ratio (goals: ≤ 2 for both).
//
//   node scripts/bench-startup.mjs [--runs 20] [--inspect-runs 15] [--no-inspect] [--cli PATH] [--vs PATH] [--json]
//
// --vs PATH: another build's main.js (e.g. a copy of dist/ from before a change) timed in the same
// alternation, so a before/after comparison shares the machine's load.
//
// heapgap is run as users run it, as a command (main.js's sh line then starts node without
// NODE_EXTRA_CA_CERTS, see src/cli/main.ts); a --vs build without that line is run with node.
// Every command is spawned the same way (execa, stdin ignored, output buffered) and timed from spawn
// to exit with performance.now(); one untimed warm-up run of each comes first so the page cache holds
// the files (and inspect's code cache is written, when dist/cli may hold one: the timed runs then
// use it, as a user's second run does). Another inspect variant, with HEAPGAP_DEBUG=1, keeps the phases heapgap's own marks
// show (gdb's monotonic marks around attach/detach, on the clock of process.hrtime): node start to
// gdb's attach, the stop, detach to exit. Nothing here asserts on time: it reports figures.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { heapgapCommand } from './lib/cli.mjs';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let CLI = join(ROOT, 'dist', 'cli', 'main.js');
let VS = null;
const USAGE = 'usage: node scripts/bench-startup.mjs [--runs 20] [--inspect-runs 15] [--no-inspect] [--cli PATH] [--vs PATH] [--json]';

function parseArgs(argv) {
  const o = { runs: 20, inspectRuns: 15, inspect: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const int = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) fail(`${a}: expected a positive integer, got ${argv[i]}`);
      return n;
    };
    if (a === '--runs') o.runs = int();
    else if (a === '--inspect-runs') o.inspectRuns = int();
    else if (a === '--no-inspect') o.inspect = false;
    else if (a === '--cli' && i + 1 < argv.length) CLI = resolve(argv[++i]);
    else if (a === '--vs' && i + 1 < argv.length) VS = resolve(argv[++i]);
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  return o;
}

function fail(msg) {
  console.error(`bench-startup: ${msg}\n${USAGE}`);
  process.exit(2);
}

const stats = (xs) => summary(xs, 2);
const r2 = (x) => Math.round(x * 100) / 100;
const load1 = () => r2(loadavg()[0]);
/** CLOCK_MONOTONIC ms: gdb's python time.monotonic() reads the same clock. */
const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

async function timeOnce(file, args, env = {}) {
  const t0 = performance.now();
  const start = monoMs();
  const r = await execa(file, args, { stdin: 'ignore', reject: false, cwd: ROOT, env });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return { ms, start, end: monoMs(), stdout: r.stdout.trim(), stderr: r.stderr };
}

/** Alternates the variants (which goes first changes every run); returns each one's times. */
async function alternate(variants, runs) {
  for (const v of variants) await v.run(); // warm-up, untimed
  const times = variants.map(() => []);
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? variants.map((_, k) => k) : variants.map((_, k) => variants.length - 1 - k);
    for (const k of order) times[k].push(await variants[k].run());
  }
  return times;
}

/**
 * The run cut at node's own marks (heapgap-n, src/marks.ts) and gdb's (heapgap-t), in the order
 * they happen: node start, gdb spawned (or adopted from main.js's sh line: main.ts, before the program loads), program loaded, snapshot begun, gdb asked for (safe-call), attach,
 * detached, gdb gone and its output read (gdb-done), after-detach measuring done, rendering, exit.
 */
const SPLIT = ['start', 'gdb-spawned', 'program', 'snapshot', 'safe-call', 'attach', 'detached', 'gdb-done', 'measured', 'rendering', 'exit'];

function split(r) {
  const at = { start: r.start, exit: r.end };
  for (const m of r.stderr.matchAll(/^heapgap-[nt] ([\w-]+) ([\d.]+)/gm)) at[m[1]] ??= Number(m[2]) * 1000;
  // gdb started by main.js's sh line (gdb-early.sh) is adopted by node, not spawned: the same slot
  at['gdb-spawned'] ??= at['gdb-adopted'];
  return SPLIT.slice(1).map((to, i) => (at[to] ?? NaN) - (at[SPLIT[i]] ?? NaN));
}

async function startIdleTarget(dir) {
  const bin = join(dir, 'pinned-threads');
  await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', bin, join(ROOT, 'fixtures', 'targets', 'pinned-threads.c')], { stdin: 'ignore' });
  // 8 workers and main (9 threads), small heaps: 40 blocks of 32 KiB each
  const child = execa(bin, ['8', '40', '32768'], { stdin: 'ignore', stderr: 'ignore', buffer: false, reject: false, cleanup: true });
  const line = await new Promise((res, rej) => {
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) res(buf.slice(0, buf.indexOf('\n')));
    });
    child.then(() => rej(new Error('pinned-threads exited before its ready line')));
  });
  return { pid: JSON.parse(line).pid, stop: () => child.kill('SIGTERM') };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) fail('dist/cli/main.js is missing; build first: npx tsc -p tsconfig.json');
  const load = [load1()];
  const version = (await timeOnce(...heapgapCommand(CLI, ['--version']))).stdout;
  const node = [
    { name: 'heapgap --version', command: `${heapgapCommand(CLI, ['--version']).flat().join(' ')}`, run: async () => (await timeOnce(...heapgapCommand(CLI, ['--version']))).ms },
    { name: 'node -e 0', command: 'node -e 0', run: async () => (await timeOnce(process.execPath, ['-e', '0'])).ms },
    ...(VS ? [{ name: `--vs --version`, command: `${heapgapCommand(VS, ['--version']).flat().join(' ')}`, run: async () => (await timeOnce(...heapgapCommand(VS, ['--version']))).ms }] : []),
  ];
  const nodeTimes = await alternate(node, opts.runs);
  const results = node.map((v, k) => ({ name: v.name, command: v.command, ms: stats(nodeTimes[k]), samples: nodeTimes[k].map(r2) }));
  const ratio = r2(results[0].ms.median / results[1].ms.median);
  let inspect = null;
  if (opts.inspect) {
    const dir = await mkdtemp(join(tmpdir(), 'heapgap-bench-startup-'));
    const target = await startIdleTarget(dir);
    const phases = [];
    try {
      const args = ['inspect', String(target.pid), '--json'];
      // Timed as users run it, without HEAPGAP_DEBUG (its marks and its dump of gdb's output are
      // writes users do not make). The phases come from runs of their own, with it, in the same
      // alternation.
      const variants = [
        { name: 'heapgap inspect (idle 9-thread C target)', command: heapgapCommand(CLI, args).flat().join(' '), run: async () => (await timeOnce(...heapgapCommand(CLI, args))).ms },
        { name: 'gdb -nx --batch -ex quit', command: 'gdb -nx --batch -ex quit', run: async () => (await timeOnce('gdb', ['-nx', '--batch', '-ex', 'quit'])).ms },
        // the first run of a command after a build (or a node upgrade), or where its code cache may
        // not be kept (src/cli/code-cache.ts): V8 compiles all of it
        { name: 'heapgap inspect, HEAPGAP_CODE_CACHE=off', command: `HEAPGAP_CODE_CACHE=off ${heapgapCommand(CLI, args).flat().join(' ')}`, run: async () => (await timeOnce(...heapgapCommand(CLI, args), { HEAPGAP_CODE_CACHE: 'off' })).ms },
        ...(VS ? [{ name: '--vs inspect', command: heapgapCommand(VS, args).flat().join(' '), run: async () => (await timeOnce(...heapgapCommand(VS, args))).ms }] : []),
        {
          name: 'heapgap inspect, HEAPGAP_DEBUG=1 (its phases)',
          command: `HEAPGAP_DEBUG=1 ${heapgapCommand(CLI, args).flat().join(' ')}`,
          run: async () => {
            const r = await timeOnce(...heapgapCommand(CLI, args), { HEAPGAP_DEBUG: '1' });
            const mark = (w) => Number(new RegExp(`heapgap-t ${w} ([\\d.]+)`).exec(r.stderr)?.[1] ?? NaN) * 1000;
            phases.push({ toAttach: mark('attach') - r.start, stop: mark('detached') - mark('attach'), afterDetach: r.end - mark('detached'), split: split(r) });
            return r.ms;
          },
        },
      ];
      const times = await alternate(variants, opts.inspectRuns);
      phases.splice(0, 1); // the warm-up's
      inspect = {
        results: variants.map((v, k) => ({ name: v.name, command: v.command, ms: stats(times[k]), samples: times[k].map(r2) })),
        phases: { toAttachMs: stats(phases.map((p) => p.toAttach)), attachToDetachMs: stats(phases.map((p) => p.stop)), afterDetachMs: stats(phases.map((p) => p.afterDetach)) },
        split: Object.fromEntries(SPLIT.slice(1).map((to, i) => [`${SPLIT[i]}→${to}`, stats(phases.map((p) => p.split[i]).filter((x) => Number.isFinite(x)))])),
      };
      inspect.ratio = r2(inspect.results[0].ms.median / inspect.results[1].ms.median);
    } finally {
      target.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  load.push(load1());
  const doc = {
    bench: 'startup',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg1: load },
    heapgapVersion: version,
    runs: opts.runs,
    results,
    ratio,
    extraMs: r2(results[0].ms.median - results[1].ms.median),
    inspect,
  };
  const rows = [...results, ...(inspect?.results ?? [])].map((r) => [r.name, String(r.ms.n), r.ms.median.toFixed(1), `${r.ms.min.toFixed(1)}–${r.ms.max.toFixed(1)}`]);
  const head = ['command', 'runs', 'median ms', 'min–max ms'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c) => c.map((x, i) => x.padEnd(w[i])).join('  ');
  const text = [
    line(head),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.map(line),
    `ratio heapgap --version / node -e 0: ${ratio.toFixed(2)} (+${doc.extraMs.toFixed(1)} ms)`,
    ...(inspect
      ? [
          `ratio inspect / gdb's own start: ${inspect.ratio.toFixed(2)}`,
          `inspect's phases (medians): node start → attach ${inspect.phases.toAttachMs.median?.toFixed(1)} ms, attach → detach ${inspect.phases.attachToDetachMs.median?.toFixed(1)} ms, detach → exit ${inspect.phases.afterDetachMs.median?.toFixed(1)} ms`,
          `split (medians, ms): ${Object.entries(inspect.split).map(([k, v]) => `${k} ${v.median?.toFixed(1)}`).join(', ')}`,
        ]
      : []),
    `load avg ${load.map((l) => l.toFixed(2)).join(' -> ')}`,
  ].join('\n');
  if (opts.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else process.stdout.write(`${text}\n`);
}

await main();
