#!/usr/bin/env node
// bench-heap-check.mjs — what the free-list check before the calls adds to the stop.
//
//   node scripts/bench-heap-check.mjs [--rounds 5] [--json]
//
// For each target, in one run and alternating which arm goes first, every round takes a capture
//   checked:   heapgap capture PID           (the check runs in the stop, before any call)
//   unchecked: the same with HEAPGAP_SKIP_HEAP_CHECK=1 (the baseline: no check)
// and reads from it pause.stoppedMs (attach to detach, less the time the threads ran during
// calls) and, for the checked arm, sections.glibc.heapCheck: its own ms and how many free chunks
// it walked. Targets: fragmenter (the demo's fragmented heap: thousands of free chunks in 7
// arenas), churn 4 (busy threads, a few hundred free chunks), corrupt-heap none thread (a small
// idle heap). Prints medians (min–max) and the ratio of the medians; asserts nothing.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const argv = process.argv.slice(2);
const ROUNDS = Number(argv[argv.indexOf('--rounds') + 1]) || 5;
const JSON_OUT = argv.includes('--json');

const TARGETS = [
  { name: 'fragmenter', src: 'fragmenter.c', args: [] },
  { name: 'churn', src: 'churn.c', args: ['4'] },
  { name: 'corrupt-heap none', src: 'corrupt-heap.c', args: ['none', 'thread'] },
];

async function start(dir, t) {
  const exe = join(dir, t.src.replace(/\.c$/, ''));
  await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', exe, join(ROOT, 'fixtures', 'targets', t.src)], { stdin: 'ignore' });
  const child = execa(exe, t.args, { stdin: 'pipe', stderr: 'ignore', buffer: false, reject: false });
  const line = await new Promise((res) => child.stdout.once('data', (d) => res(String(d).split('\n')[0])));
  return { child, pid: JSON.parse(line).pid };
}

async function capture(dir, pid, checked) {
  const file = join(dir, `cap-${pid}-${checked}.json`);
  const env = checked ? {} : { HEAPGAP_SKIP_HEAP_CHECK: '1' };
  const r = await execa(process.execPath, [CLI, 'capture', String(pid), '-o', file], { env, reject: false });
  if (r.exitCode !== 0) return { error: r.stderr.split('\n').pop() };
  const doc = JSON.parse(await readFile(file, 'utf8'));
  await rm(file, { force: true });
  const hc = doc.sections?.glibc?.heapCheck;
  return {
    stoppedMs: doc.pause?.stoppedMs ?? null,
    checkMs: hc?.ms ?? null,
    chunks: hc ? hc.arenas.reduce((s, a) => s + a.fastChunks + a.binChunks, 0) : null,
    arenas: hc?.arenas.length ?? null,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'heapgap-bench-check-'));
const rows = [];
try {
  for (const t of TARGETS) {
    const { child, pid } = await start(dir, t);
    const runs = { checked: [], unchecked: [] };
    try {
      for (let i = 0; i < ROUNDS; i++) {
        for (const checked of i % 2 ? [false, true] : [true, false]) runs[checked ? 'checked' : 'unchecked'].push(await capture(dir, pid, checked));
      }
    } finally {
      child.kill('SIGKILL');
      await child;
    }
    const ok = (xs) => xs.filter((x) => !x.error);
    const c = summary(ok(runs.checked).map((x) => x.stoppedMs));
    const u = summary(ok(runs.unchecked).map((x) => x.stoppedMs));
    rows.push({
      target: t.name,
      freeChunks: summary(ok(runs.checked).map((x) => x.chunks), 0),
      arenas: ok(runs.checked)[0]?.arenas ?? null,
      checkMs: summary(ok(runs.checked).map((x) => x.checkMs)),
      stoppedChecked: c,
      stoppedUnchecked: u,
      ratio: c.median !== null && u.median ? Math.round((c.median / u.median) * 100) / 100 : null,
      errors: [...runs.checked, ...runs.unchecked].filter((x) => x.error).map((x) => x.error),
    });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const fmt = (s) => (s.median === null ? '-' : `${s.median} (${s.min}–${s.max})`);
console.log(`rounds ${ROUNDS}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('target | arenas | free chunks walked | check ms | stoppedMs checked | stoppedMs unchecked | ratio');
for (const r of rows) console.log(`${r.target} | ${r.arenas} | ${fmt(r.freeChunks)} | ${fmt(r.checkMs)} | ${fmt(r.stoppedChecked)} | ${fmt(r.stoppedUnchecked)} | ${r.ratio ?? '-'}${r.errors.length ? ` | errors: ${r.errors.join('; ')}` : ''}`);
if (JSON_OUT) console.log(JSON.stringify(rows));
