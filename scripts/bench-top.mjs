#!/usr/bin/env node
// bench-top.mjs — `heapgap top` on a host with hundreds of processes, and on one process with tens of
// thousands of VMAs; time and peak memory as ratios against baselines measured in the same run.
//
//   node scripts/bench-top.mjs [--procs 300] [--vmas 50000] [--reps 3] [--json]
//
// A. `procs` small glibc processes (fixtures/targets/single-thread.c with 200 blocks of 4 KiB each,
//    half freed) join whatever already runs here. Alternating, `reps` times:
//      - `ps aux` (wall time from spawn to exit);
//      - a node process that reads /proc/PID/smaps_rollup of every process (the cheapest procfs
//        reading that still gives each process's Rss): wall time and its own VmHWM;
//      - `heapgap top --json`: wall time and its node VmHWM (read at exit through an --import hook).
//    Reported: medians, top / ps and top / rollup ratios, and per process: (top - rollup) / processes.
// B. fixtures/targets/many-vmas.c with `vmas` one-page VMAs and 8 thread arenas (raising
//    vm.max_map_count when needed and restoring it). Alternating: `cat /proc/PID/maps` (spawned, like
//    top), `pmap -x PID`, and `heapgap top --pid PID --json`; ratios against both.
// Nothing asserts on time: this prints what one run on this machine measured.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const MAP_COUNT = '/proc/sys/vm/max_map_count';
const HWM_HOOK = `data:text/javascript,${encodeURIComponent(
  'import{readFileSync,writeFileSync}from"node:fs";process.on("exit",()=>{const f=process.env.BENCH_HWM_FILE;' +
    'if(f){const m=/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status","latin1"));writeFileSync(f,m?m[1]:"")}});',
)}`;
// The baseline reader: smaps_rollup of every process, nothing else.
const ROLLUP = 'const fs=require("fs");let n=0;for(const p of fs.readdirSync("/proc")){if(!/^\\d+$/.test(p))continue;try{fs.readFileSync(`/proc/${p}/smaps_rollup`);n++}catch{}}console.log(n)';

const opts = { procs: 300, vmas: 50000, reps: 3, json: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--json') opts.json = true;
  else if (['--procs', '--vmas', '--reps'].includes(a)) opts[a.slice(2)] = Number(process.argv[++i]);
  else {
    console.error('usage: node scripts/bench-top.mjs [--procs 300] [--vmas 50000] [--reps 3] [--json]');
    process.exit(2);
  }
}
const log = (m) => process.stderr.write(`bench-top: ${m}\n`);
const tmp = await mkdtemp(join(tmpdir(), 'bench-top-'));

async function build(name) {
  const out = join(tmp, name);
  await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', out, join(ROOT, 'fixtures', 'targets', `${name}.c`)]);
  return out;
}

/** Spawns a target and waits for its JSON ready line. Wrapped: the subprocess is a thenable. */
async function start(bin, args, env = {}) {
  const child = execa(bin, args, { env, stdin: 'ignore', stderr: 'ignore', buffer: false, reject: false });
  await new Promise((ok, fail) => {
    let buf = '';
    child.stdout.on('data', (d) => ((buf += d), buf.includes('\n') && ok()));
    child.once('exit', () => fail(new Error(`${bin} exited early`)));
  });
  return { child };
}

/** Wall ms and (for node) VmHWM in KiB of one command. */
async function timed(cmd, args, node = false) {
  const hwm = join(tmp, `hwm-${Math.random().toString(36).slice(2)}`);
  const started = process.hrtime.bigint();
  const r = await execa(node ? process.execPath : cmd, node ? ['--import', HWM_HOOK, ...args] : args, {
    env: { BENCH_HWM_FILE: hwm, NO_COLOR: '1' }, stdin: 'ignore', reject: false, maxBuffer: 1 << 30,
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const kib = node ? Number(await readFile(hwm, 'latin1').catch(() => 'NaN')) : null;
  return { wallMs, hwmKiB: kib, stdout: r.stdout };
}

async function alternate(arms, reps) {
  const rows = Object.fromEntries(Object.keys(arms).map((k) => [k, []]));
  for (let i = 0; i < reps; i++) for (const [k, run] of Object.entries(arms)) rows[k].push(await run());
  return Object.fromEntries(Object.entries(rows).map(([k, rs]) => [k, {
    wallMs: summary(rs.map((r) => r.wallMs), 1), hwmMiB: summary(rs.map((r) => (r.hwmKiB ?? NaN) / 1024), 1), last: rs.at(-1),
  }]));
}

const ratio = (a, b) => (a !== null && b ? Math.round((a / b) * 100) / 100 : null);
const children = [];
let oldMapCount = null;
const out = { machine: { cpus: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) }, options: opts };
try {
  // ---- A: hundreds of processes ----
  const small = await build('single-thread');
  log(`starting ${opts.procs} small glibc processes`);
  for (let i = 0; i < opts.procs; i++) children.push((await start(small, ['200', '4096'])).child);
  const a = await alternate({
    ps: () => timed('ps', ['aux']),
    rollup: () => timed('node', ['-e', ROLLUP], true),
    top: () => timed('node', [CLI, 'top', '--json'], true),
  }, opts.reps);
  const report = JSON.parse(a.top.last.stdout);
  const n = report.processes.length;
  out.host = {
    processes: n, withArenaFigures: report.processes.filter((p) => p.heldFreeEstimateBytes !== null).length,
    wallMs: { ps: a.ps.wallMs, rollup: a.rollup.wallMs, top: a.top.wallMs },
    hwmMiB: { rollup: a.rollup.hwmMiB, top: a.top.hwmMiB },
    ratios: { topVsPs: ratio(a.top.wallMs.median, a.ps.wallMs.median), topVsRollup: ratio(a.top.wallMs.median, a.rollup.wallMs.median), hwmTopVsRollup: ratio(a.top.hwmMiB.median, a.rollup.hwmMiB.median) },
    perProcess: {
      wallMsOverRollup: ratio(a.top.wallMs.median - a.rollup.wallMs.median, n),
      kibOverRollup: ratio((a.top.hwmMiB.median - a.rollup.hwmMiB.median) * 1024, n),
      topPassMs: ratio(report.durationMs, n),
    },
  };
  for (const c of children.splice(0)) c.kill('SIGTERM');

  // ---- B: one process with tens of thousands of VMAs ----
  const need = opts.vmas + 10000;
  const current = Number(readFileSync(MAP_COUNT, 'latin1'));
  if (current < need) {
    oldMapCount = current;
    log(`raising vm.max_map_count ${current} -> ${need}`);
    await execa('sysctl', ['-w', `vm.max_map_count=${need}`]);
  }
  const many = await build('many-vmas');
  const { child: target } = await start(many, [String(opts.vmas), '8', '100'], { MALLOC_ARENA_MAX: '9' });
  children.push(target);
  const pid = String(target.pid);
  const vmaCount = readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n').length - 1;
  const b = await alternate({
    maps: () => timed('cat', [`/proc/${pid}/maps`]),
    pmap: () => timed('pmap', ['-x', pid]),
    top: () => timed('node', [CLI, 'top', '--pid', pid, '--json'], true),
  }, opts.reps);
  const p = JSON.parse(b.top.last.stdout).processes[0];
  out.manyVmas = {
    vmas: vmaCount, arenas: p.arenas, heldFreeEstimateBytes: p.heldFreeEstimateBytes,
    wallMs: { catMaps: b.maps.wallMs, pmap: b.pmap.wallMs, top: b.top.wallMs }, hwmMiB: { top: b.top.hwmMiB },
    ratios: { topVsCatMaps: ratio(b.top.wallMs.median, b.maps.wallMs.median), topVsPmap: ratio(b.top.wallMs.median, b.pmap.wallMs.median), topVsHostRollupHwm: ratio(b.top.hwmMiB.median, a.rollup.hwmMiB.median) },
    topPassMs: JSON.parse(b.top.last.stdout).durationMs,
  };
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => c.catch(() => undefined)));
  if (oldMapCount !== null) await execa('sysctl', ['-w', `vm.max_map_count=${oldMapCount}`], { reject: false });
  await rm(tmp, { recursive: true, force: true });
}

if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
else {
  const h = out.host;
  const m = out.manyVmas;
  const med = (s) => (s.median === null ? 'n/a' : String(s.median));
  process.stdout.write([
    `machine: ${out.machine.cpus} CPUs, load ${out.machine.loadavg.join(' ')}; medians of ${opts.reps} (min-max in --json)`,
    `A. ${h.processes} processes (${h.withArenaFigures} with arena figures)`,
    `   wall ms: ps aux ${med(h.wallMs.ps)}, smaps_rollup of all ${med(h.wallMs.rollup)}, heapgap top ${med(h.wallMs.top)}`,
    `   ratios: top/ps ${h.ratios.topVsPs}, top/rollup ${h.ratios.topVsRollup}; peak MiB rollup ${med(h.hwmMiB.rollup)}, top ${med(h.hwmMiB.top)} (x${h.ratios.hwmTopVsRollup})`,
    `   per process: ${h.perProcess.wallMsOverRollup} ms and ${h.perProcess.kibOverRollup} KiB over the rollup baseline; top's own pass ${h.perProcess.topPassMs} ms`,
    `B. one process, ${m.vmas} VMAs, ${m.arenas} arenas`,
    `   wall ms: cat maps ${med(m.wallMs.catMaps)}, pmap -x ${med(m.wallMs.pmap)}, heapgap top --pid ${med(m.wallMs.top)} (pass ${m.topPassMs} ms)`,
    `   ratios: top/cat-maps ${m.ratios.topVsCatMaps}, top/pmap ${m.ratios.topVsPmap}; peak ${med(m.hwmMiB.top)} MiB (x${m.ratios.topVsHostRollupHwm} of the rollup reader's)`,
    '',
  ].join('\n'));
}
