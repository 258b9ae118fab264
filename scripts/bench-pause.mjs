#!/usr/bin/env node
// bench-pause.mjs — how long does the target itself feel stopped: the plain recipe
// (`gdb -p ... call malloc_info`), heapgap inspect and trim, and the bare gdb attach/detach floor,
// measured by targets that time their own 1 ms ticks; heapgap's reported stop next to it.
//
//   node scripts/bench-pause.mjs [--rounds 5] [--targets c,node,python,big-heap,many-vmas,java]
//                                [--arms plain,inspect,trim,floor] [--heap-mib 4096] [--vmas 60000]
//                                [--vma-threads 64] [--settle 300] [--python python3]
//                                [--plain-timeout 120] [--cli path/to/main.js]
//                                [--cli-b path/to/other/main.js] [--json]
//
// Targets (each reports the longest gap between its 1 ms ticks since the last report, then resets):
//   c          fixtures/targets/stall-meter.c: 2 tickers, 3 parked workers, main in sigwaitinfo
//   big-heap   fixtures/targets/big-heap.c: a --heap-mib fragmented heap (main arena and 3 thread
//              arenas, millions of free chunks), 3 tickers
//   many-vmas  fixtures/targets/many-vmas.c: --vmas one-page VMAs, --vma-threads arenas of 3 heaps,
//              3 tickers (MALLOC_ARENA_MAX = threads + 1)
//   node       fixtures/targets/stall-meter.mjs (setInterval 1 ms on the event loop)
//   python     a python3 loop around time.sleep(0.001) with one parked helper thread (inline below)
//   java       fixtures/targets/StallMeter.java (a thread parking 1 ms at a time, 8 churning workers;
//              asked with a line "report" on stdin instead of SIGUSR1, which the JVM reserves)
// The C targets' tickers (fixtures/targets/meter.h) also list every gap of 2 ms or more with its
// CLOCK_MONOTONIC start and end, so a stop is matched to the gap that overlaps it: "felt" is the
// longest gap of any ticker that overlaps the arm's stop window (gdb's first attached thread ..
// detach, from gdb's own marks; the plain recipe's ends when gdb exits). The other targets give
// their longest gap between the reset and the report.
// Arms, every round, each between a reset and a report, in an order that rotates (idle last):
//   plain:   gdb --batch -iex 'set tdesc filename …/amd64-linux-sse.xml' -p PID
//                -ex 'call (int)malloc_info(0, (void*)stdout)'
//   inspect: node dist/cli/main.js inspect PID --json   (HEAPGAP_DEBUG=1 for gdb's marks)
//   trim:    node dist/cli/main.js trim PID --json
//   floor:   gdb attach + detach, no driver and no call, with heapgap's own gdb command line
//            (gdbArgs({ bare: true }) from dist/collect/safe-call/gdb-argv.js), decoy included
//   inspect-nocheck, trim-nocheck (only with --arms naming them): the same with
//            HEAPGAP_SKIP_HEAP_CHECK=1, the free-list check before the calls off (it walks every free
//            chunk inside the stop: this shows what it costs)
//   idle:    nothing, for as long as that round's inspect took, at most 5 s (the meter's own noise)
// Reported per target and arm: felt (median, min–max), heapgap's stoppedMs and reported/felt, the
// ratios felt/plain and felt/floor (medians), wall times. Nothing here asserts on time.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let CLI = join(ROOT, 'dist', 'cli', 'main.js');
let CLI_B = null; // --cli-b: a second build, run as one more inspect arm in the same rounds
// gdb 13 cannot write back the AVX xstate regset on kernels with AMX: after an inferior call the
// register restore fails, orig_rax is left at -1 and every syscall the target was blocked in returns
// -ERESTARTSYS (glibc then aborts, e.g. "The futex facility returned an unexpected error code").
// heapgap loads this FXSAVE-only target description for that reason; the plain recipe needs the
// same line or the target dies after the first call. It changes only how registers are saved and
// restored, not what gdb loads at attach, so the comparison of stop lengths stays fair.
const TDESC = join(ROOT, 'src', 'collect', 'safe-call', 'amd64-linux-sse.xml');
const MARK = 'heapgap-t ';
// The plain recipe plus one python line that prints when gdb attached the first thread (no effect on
// what gdb does): the start of its stop window.
const FIRST_HOOK = `python import gdb, time; gdb.events.new_thread.connect(lambda e, s=[]: s or s.append(print("${MARK}first %.6f" % time.monotonic(), flush=True)))`;
const TARGETS = ['c', 'node', 'python', 'java', 'big-heap', 'many-vmas'];
const ARMS = ['plain', 'inspect', 'trim', 'floor', 'inspect-nocheck', 'trim-nocheck'];

const PYTHON_METER = String.raw`
import json, os, signal, threading, time
st = {"max": 0.0, "ticks": 0, "seq": 0}
def report(signum, frame):
    st["seq"] += 1
    line = json.dumps({"seq": st["seq"], "maxGapMs": round(st["max"] * 1000, 3), "ticks": st["ticks"]})
    st["max"] = 0.0
    st["ticks"] = 0
    os.write(2, ("stall-meter " + line + "\n").encode())
signal.signal(signal.SIGUSR1, report)
signal.signal(signal.SIGTERM, lambda s, f: os._exit(0))
threading.Thread(target=threading.Event().wait, daemon=True).start()  # a thread parked in a futex
os.write(2, ("stall-meter " + json.dumps({"ready": True, "pid": os.getpid()}) + "\n").encode())
last = time.monotonic()
while True:
    time.sleep(0.001)
    now = time.monotonic()
    gap = now - last
    last = now
    if gap > st["max"]:
        st["max"] = gap
    st["ticks"] += 1
`;

const USAGE = 'usage: node scripts/bench-pause.mjs [--rounds 5] [--targets c,node,python,big-heap,many-vmas,java] [--arms plain,inspect,trim,floor] [--heap-mib 4096] [--vmas 60000] [--vma-threads 64] [--settle ms] [--python python3] [--plain-timeout s] [--cli dist/cli/main.js] [--cli-b other/main.js] [--json]';

function parseArgs(argv) {
  const o = { rounds: 5, targets: ['c', 'node', 'python', 'big-heap', 'many-vmas'], arms: ['plain', 'inspect', 'trim', 'floor'], heapMib: 4096, vmas: 60000, vmaThreads: 64, settle: 300, json: false, python: 'python3', plainTimeout: 120 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const list = () => val().split(',').map((s) => s.trim()).filter(Boolean);
    if (a === '--rounds') o.rounds = posInt(val(), a);
    else if (a === '--targets') o.targets = list();
    else if (a === '--arms') o.arms = list();
    else if (a === '--heap-mib') o.heapMib = posInt(val(), a);
    else if (a === '--vmas') o.vmas = posInt(val(), a);
    else if (a === '--vma-threads') o.vmaThreads = posInt(val(), a);
    else if (a === '--settle') o.settle = posInt(val(), a, true);
    else if (a === '--python') o.python = val();
    else if (a === '--plain-timeout') o.plainTimeout = posInt(val(), a);
    else if (a === '--cli') CLI = resolve(val());
    else if (a === '--cli-b') CLI_B = resolve(val());
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  for (const t of o.targets) if (!TARGETS.includes(t)) usage(`unknown target ${t}`);
  for (const t of o.arms) if (!ARMS.includes(t)) usage(`unknown arm ${t}`);
  return o;
}

function usage(err) {
  if (err) {
    console.error(`bench-pause: ${err}\n${USAGE}`);
    process.exit(2);
  }
  console.log(USAGE);
  process.exit(0);
}

function posInt(v, what, zeroOk = false) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) usage(`${what}: expected an integer, got ${v}`);
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`bench-pause: ${msg}\n`);
const stats = (xs) => summary(xs, 3);
const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
/** CLOCK_MONOTONIC seconds (libuv's hrtime), the clock of the tickers and of gdb's marks. */
const mono = () => Number(process.hrtime.bigint()) / 1e9;
const load1 = () => Math.round(loadavg()[0] * 100) / 100;

// ---- targets ---------------------------------------------------------------------------------

async function gccBuild(dir, name) {
  const file = join(dir, name);
  await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', file, join(ROOT, 'fixtures', 'targets', `${name}.c`)], { stdin: 'ignore' });
  return file;
}

function memAvailableMib() {
  const kb = Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'))?.[1] ?? 0);
  return Math.floor(kb / 1024);
}

/** Starts a meter target and gives a way to ask it for its gaps since the last ask. */
async function startMeter(kind, dir, opts) {
  let file;
  let args;
  let env = {};
  let readyMs = 20_000;
  if (kind === 'c') {
    file = await gccBuild(dir, 'stall-meter');
    args = ['3', '2'];
  } else if (kind === 'big-heap') {
    const need = opts.heapMib + 1024;
    if (memAvailableMib() < need) throw new Error(`big-heap needs ${need} MiB available, have ${memAvailableMib()} MiB: lower --heap-mib`);
    file = await gccBuild(dir, 'big-heap');
    args = [String(opts.heapMib), '2048', '2', '1', '3'];
    readyMs = 600_000; // writing every page of the heap, on a busy machine
  } else if (kind === 'many-vmas') {
    const max = Number(readFileSync('/proc/sys/vm/max_map_count', 'latin1'));
    if (opts.vmas + opts.vmaThreads * 4 + 1000 > max) throw new Error(`many-vmas: ${opts.vmas} VMAs do not fit under vm.max_map_count ${max} (scripts/bench-scale.mjs raises it; here lower --vmas)`);
    file = await gccBuild(dir, 'many-vmas');
    args = [String(opts.vmas), String(opts.vmaThreads), '160', '122880', '3'];
    env = { MALLOC_ARENA_MAX: String(opts.vmaThreads + 1) };
    readyMs = 300_000;
  } else if (kind === 'node') {
    file = process.execPath;
    args = [join(ROOT, 'fixtures', 'targets', 'stall-meter.mjs')];
  } else if (kind === 'java') {
    await execa('javac', ['-d', dir, join(ROOT, 'fixtures', 'targets', 'StallMeter.java')], { stdin: 'ignore' });
    file = 'java';
    args = ['-Xmx256m', '-cp', dir, 'StallMeter', '8'];
  } else {
    file = opts.python;
    args = ['-c', PYTHON_METER];
  }
  // stdout -> /dev/null: the plain recipe's malloc_info(0, stdout) output lands there, harmlessly.
  // Its own session, as a service has: in this script's session it would share a scheduler
  // autogroup with heapgap's node and gdb, and their CPU before and after the stop would show up as
  // the target's stalls.
  const child = execa(file, args, { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false, cleanup: true, detached: true, env, extendEnv: true });
  const reports = [];
  const waiters = [];
  const otherStderr = [];
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.startsWith('stall-meter ')) {
        reports.push(JSON.parse(line.slice('stall-meter '.length)));
        for (const w of waiters.splice(0)) w();
      } else if (line.trim() !== '') {
        otherStderr.push(line);
        if (otherStderr.length > 50) otherStderr.shift();
      }
    }
  });
  let exited = null;
  child.then((r) => {
    exited = r;
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred, what, timeoutMs = 15_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = reports.find(pred);
      if (hit) return hit;
      if (exited) throw new Error(`${kind} target exited (${exited.exitCode ?? exited.signal}) while waiting for ${what}; its stderr:\n${otherStderr.join('\n')}`);
      if (Date.now() > end) throw new Error(`${kind} target: no ${what} within ${timeoutMs} ms`);
      await Promise.race([new Promise((r) => waiters.push(r)), sleep(200)]);
    }
  };
  let ready;
  try {
    ready = await next((m) => m.ready === true, 'ready line', readyMs);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const pid = ready.pid;
  let lastSeq = 0;
  const ask = async () => {
    // the JVM keeps its signals to itself: the java meter reads "report" on stdin
    if (kind === 'java') child.stdin.write('report\n');
    else process.kill(pid, 'SIGUSR1');
    const m = await next((x) => typeof x.seq === 'number' && x.seq > lastSeq, 'stall report');
    lastSeq = m.seq;
    return m;
  };
  const alive = () => !exited && procState(pid) !== null;
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
      await Promise.race([child, sleep(5000)]);
      if (!exited) child.kill('SIGKILL');
    }
  };
  return { kind, pid, ready, exe: kind === 'python' ? opts.python : kind === 'java' ? 'java' : file, ask, alive, stop, stderr: otherStderr };
}

function procState(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    return /^State:\s+(\S)/m.exec(s)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * What the target felt of a stop in window [from, to] (monotonic s): the longest gap of any ticker
 * that overlaps it (C meters list their gaps), else the longest gap since the reset.
 */
function felt(report, window, calls = []) {
  if (!Array.isArray(report.tickers) || window === null) return { ms: report.maxGapMs, inStopsMs: null, matched: false };
  const [from, to] = window;
  const longest = (keep) => Math.max(0, ...report.tickers.flatMap((t) => t.gaps.filter(keep).map(([a, b]) => (b - a) * 1000)));
  // gaps that lie wholly inside a call (every thread runs then) are the machine's, not the stop's
  const inCall = ([a, b]) => calls.some(([x, y]) => a >= x && b <= y);
  return { ms: longest(([a, b]) => b > from && a < to), inStopsMs: longest(([a, b]) => b > from && a < to && !inCall([a, b])), matched: true };
}

const marksOf = (text) => {
  const m = {};
  for (const x of String(text).matchAll(/heapgap-t (\w+) ([\d.]+)/g)) m[x[1]] = Number(x[2]);
  return m;
};

// ---- arms ------------------------------------------------------------------------------------

async function plainArm(pid, timeoutS) {
  const args = ['--batch', '-iex', `set tdesc filename ${TDESC}`, '-iex', FIRST_HOOK, '-p', String(pid), '-ex', 'call (int)malloc_info(0, (void*)stdout)'];
  const t0 = performance.now();
  const r = await execa('gdb', args, { stdin: 'ignore', reject: false, timeout: timeoutS * 1000, killSignal: 'SIGKILL', env: { LC_ALL: 'C' } });
  const end = mono();
  const wallMs = performance.now() - t0;
  const ok = r.exitCode === 0 && /\$1 = 0\b/.test(r.stdout);
  const first = marksOf(r.stdout).first;
  return { wallMs, ok, window: first ? [first, end] : null, detail: ok ? null : `gdb exit ${r.exitCode ?? r.signal}${r.timedOut ? ' (timed out, SIGKILLed)' : ''}: ${tail(r.stdout + '\n' + r.stderr)}` };
}

async function heapgapArm(pid, cli, mode, env = {}) {
  const t0 = performance.now();
  // --timeout 120s: the free-list check can hold the stop for tens of seconds on a big heap
  const r = await execa(process.execPath, [cli, mode, String(pid), '--json', '--timeout', '120s'], { stdin: 'ignore', reject: false, timeout: 300_000, env: { HEAPGAP_DEBUG: '1', ...env } });
  const wallMs = performance.now() - t0;
  let report = null;
  try {
    report = JSON.parse(r.stdout);
  } catch {}
  const ok = r.exitCode === 0 && report !== null;
  const from = Number(/^first thread attached \(monotonic s\): ([\d.]+)$/m.exec(r.stderr)?.[1] ?? NaN);
  const to = marksOf(r.stderr).detached;
  const calls = (/^threads ran during calls \(monotonic s\): (.*)$/m.exec(r.stderr)?.[1] ?? '').trim().split(' ').filter(Boolean).map((w) => w.split('-').map(Number));
  return {
    wallMs,
    ok,
    window: Number.isFinite(from) && to ? [from, to] : null,
    calls,
    stoppedMs: report?.pause?.stoppedMs ?? null,
    stoppedTotalMs: report?.pause?.stoppedTotalMs ?? null,
    stops: report?.pause?.stops ?? null,
    callThreadMs: report?.pause?.callThreadMs ?? null,
    attachMs: report?.pause?.attachMs ?? null,
    callMs: report?.pause?.callMs ?? null,
    releasedBytes: mode === 'trim' ? report?.releasedBytes ?? null : undefined,
    detail: ok ? null : `heapgap ${mode} exit ${r.exitCode}: ${tail(r.stderr)}`,
  };
}

/** heapgap's own gdb command line without the driver: what attach + detach cost by themselves. */
async function floorSession(pid) {
  const dist = (p) => import(pathToFileURL(join(dirname(CLI), '..', p)).href);
  const [{ ASSETS, gdbArgs }, { gdbOnPath, pycacheEnv }, { preflight }, { readMaps }, { mappedObjects }, { locateLibc }] = await Promise.all([
    dist('collect/safe-call/gdb-argv.js'),
    dist('collect/safe-call/gdb-path.js'),
    dist('collect/safe-call/index.js'),
    dist('collect/pipeline.js'),
    dist('allocators/mapped-objects.js'),
    dist('collect/elf.js'),
  ]);
  const before = await preflight(pid);
  const libcObject = mappedObjects(readMaps(pid)).find((o) => /\/libc\.so\.6$|\/libc-[\d.]+\.so$/.test(o.path));
  if (!libcObject) throw new Error(`process ${pid} has no glibc mapped`);
  const libc = { path: await locateLibc(pid, libcObject), base: libcObject.base };
  return async () => {
    const t0 = performance.now();
    // spawned as heapgap spawns gdb (same session, no cleanup kill), so the two compare fairly
    const gdb = gdbOnPath();
    const r = await execa(gdb?.path ?? 'gdb', gdbArgs({ pid, bare: { status: before.status, libc } }), { stdin: 'ignore', reject: false, cleanup: false, timeout: 120_000, env: { LC_ALL: 'C', HEAPGAP_ASSETS: ASSETS, ...pycacheEnv(gdb) } });
    const wallMs = performance.now() - t0;
    const m = marksOf(r.stdout);
    const from = m.first ?? m.attach;
    const ok = r.exitCode === 0 && from !== undefined && m.detached !== undefined;
    return { wallMs, ok, window: ok ? [from, m.detached] : null, stoppedMs: ok ? r3((m.detached - from) * 1000) : null, detail: ok ? null : `floor gdb exit ${r.exitCode}: ${tail(r.stdout + '\n' + r.stderr)}` };
  };
}

const tail = (s) => String(s).trim().split('\n').slice(-4).join(' | ');

// ---- one target ------------------------------------------------------------------------------

async function benchTarget(kind, dir, opts) {
  log(`${kind}: starting target (load ${load1()})`);
  const meter = await startMeter(kind, dir, opts);
  const arms = [...opts.arms, ...(CLI_B ? ['inspectB'] : [])];
  const rows = Object.fromEntries([...arms, 'idle'].map((a) => [a, []]));
  const out = { target: kind, pid: meter.pid, exe: meter.exe, ready: meter.ready, rounds: [], errors: [] };
  try {
    const floor = opts.arms.includes('floor') ? await floorSession(meter.pid) : null;
    await sleep(500); // let the runtime finish starting up
    await meter.ask(); // discard start-up gaps
    for (let round = 0; round < opts.rounds; round++) {
      // rotate the order every round; the idle window comes last (it lasts as long as inspect did)
      const order = [...arms.slice(round % arms.length), ...arms.slice(0, round % arms.length), 'idle'];
      const rec = { round: round + 1, order, load: load1() };
      let idleMs = 1000;
      for (const arm of order) {
        await sleep(opts.settle);
        await meter.ask(); // reset right before the stop
        let res;
        if (arm === 'plain') res = await plainArm(meter.pid, opts.plainTimeout);
        else if (arm === 'inspect') res = await heapgapArm(meter.pid, CLI, 'inspect');
        else if (arm === 'inspectB') res = await heapgapArm(meter.pid, CLI_B, 'inspect');
        else if (arm === 'trim') res = await heapgapArm(meter.pid, CLI, 'trim');
        else if (arm === 'inspect-nocheck') res = await heapgapArm(meter.pid, CLI, 'inspect', { HEAPGAP_SKIP_HEAP_CHECK: '1' });
        else if (arm === 'trim-nocheck') res = await heapgapArm(meter.pid, CLI, 'trim', { HEAPGAP_SKIP_HEAP_CHECK: '1' });
        else if (arm === 'floor') res = await floor();
        else {
          const from = mono();
          await sleep(idleMs);
          res = { ok: true, wallMs: idleMs, window: [from, mono()] };
        }
        if (arm === 'inspect' && res.ok) idleMs = Math.min(res.wallMs, 5000);
        if (!meter.alive()) throw new Error(`${kind} target died after the ${arm} arm of round ${round + 1}; its stderr:\n${meter.stderr.join('\n')}`);
        const rep = await meter.ask();
        const f = felt(rep, res.window, res.calls);
        const entry = { ...res, feltMs: r3(f.ms), feltInStopsMs: r3(f.inStopsMs), matched: f.matched, windowMs: res.window ? r3((res.window[1] - res.window[0]) * 1000) : null, wallMs: r3(res.wallMs) };
        delete entry.window;
        delete entry.calls;
        rec[arm] = entry;
        if (res.ok) rows[arm].push(entry);
        else out.errors.push(`round ${round + 1} ${arm}: ${res.detail}`);
      }
      out.rounds.push(rec);
      const part = (a) => (rec[a] ? `${a} ${fmt(rec[a].feltMs)}${rec[a].stoppedMs !== undefined ? ` (reported ${fmt(rec[a].stoppedMs)})` : ''}` : null);
      log(`${kind} round ${round + 1}/${opts.rounds} (load ${rec.load}): felt ms: ${[...arms, 'idle'].map(part).filter(Boolean).join(', ')}`);
    }
  } finally {
    out.targetAliveAtEnd = meter.alive();
    await meter.stop();
  }
  const arm = (list) => ({
    feltMs: stats(list.map((e) => e.feltMs)),
    feltInStopsMs: stats(list.map((e) => e.feltInStopsMs)),
    stoppedMs: stats(list.map((e) => e.stoppedMs)),
    callThreadMs: stats(list.map((e) => e.callThreadMs)),
    // per round: what heapgap reported over what the target felt
    reportedOverFelt: stats(list.map((e) => (typeof e.stoppedMs === 'number' && e.feltMs > 0 ? e.stoppedMs / e.feltMs : null))),
    reportedOverFeltInStops: stats(list.map((e) => (typeof e.stoppedMs === 'number' && e.feltInStopsMs > 0 ? e.stoppedMs / e.feltInStopsMs : null))),
    wallMs: stats(list.map((e) => e.wallMs)),
  });
  out.arms = Object.fromEntries(Object.entries(rows).map(([a, list]) => [a, arm(list)]));
  const ratio = (a, b) => {
    const x = out.arms[a]?.feltMs.median;
    const y = out.arms[b]?.feltMs.median;
    return typeof x === 'number' && typeof y === 'number' && y > 0 ? r3(x / y) : null;
  };
  out.ratios = {
    inspectOverPlain: ratio('inspect', 'plain'),
    trimOverPlain: ratio('trim', 'plain'),
    inspectOverFloor: ratio('inspect', 'floor'),
    trimOverFloor: ratio('trim', 'floor'),
    trimOverInspect: ratio('trim', 'inspect'),
    inspectNocheckOverFloor: ratio('inspect-nocheck', 'floor'),
    trimNocheckOverFloor: ratio('trim-nocheck', 'floor'),
    ...(CLI_B ? { inspectBOverPlain: ratio('inspectB', 'plain') } : {}),
  };
  return out;
}

const fmt = (x) => (x === null || x === undefined ? '-' : typeof x === 'number' ? x.toFixed(1) : String(x));
const mm = (s) => (!s || s.n === 0 ? '-' : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`);

function table(results) {
  const head = ['target', 'arm', 'n', 'felt ms', 'felt in stops ms', 'reported stoppedMs', 'reported/felt', 'reported/in stops', 'felt/plain', 'felt/floor', 'wall ms'];
  const lines = [];
  for (const r of results) {
    for (const [a, s] of Object.entries(r.arms)) {
      const over = (b) => (a === b || !r.arms[b] || !s.feltMs.median || !r.arms[b].feltMs.median ? '-' : (s.feltMs.median / r.arms[b].feltMs.median).toFixed(3));
      lines.push([r.target, a, String(s.feltMs.n), mm(s.feltMs), mm(s.feltInStopsMs), mm(s.stoppedMs), s.reportedOverFelt.n ? fmt(s.reportedOverFelt.median) : '-', s.reportedOverFeltInStops.n ? fmt(s.reportedOverFeltInStops.median) : '-', over('plain'), over('floor'), mm(s.wallMs)]);
    }
  }
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells) => cells.map((c, i) => c.padEnd(w[i])).join('  ');
  return [row(head), row(w.map((n) => '-'.repeat(n))), ...lines.map(row)].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) {
    console.error('bench-pause: dist/cli/main.js is missing; build first: npx tsc -p tsconfig.json');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) log('not root: attaching needs ptrace permission (yama ptrace_scope 0 or CAP_SYS_PTRACE)');
  const dir = await mkdtemp(join(tmpdir(), 'heapgap-bench-pause-'));
  const results = [];
  const failed = [];
  const load = [load1()];
  const gdbVersion = (await execa('gdb', ['--version'], { reject: false })).stdout.split('\n')[0];
  const pyVersion = opts.targets.includes('python') ? (await execa(opts.python, ['-c', 'import sys; print(sys.executable, sys.version.split()[0])'], { reject: false })).stdout.trim() : null;
  try {
    for (const kind of opts.targets) {
      try {
        results.push(await benchTarget(kind, dir, opts));
      } catch (e) {
        failed.push(`${kind}: ${e.message}`);
        log(`${kind}: ${e.message}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  load.push(load1());
  const doc = {
    bench: 'pause',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, memGiB: r3(totalmem() / 2 ** 30), node: process.version, gdb: gdbVersion, python: pyVersion, loadavg1: load },
    rounds: opts.rounds,
    arms: opts.arms,
    plainRecipe: `gdb --batch -iex 'set tdesc filename ${TDESC}' -p PID -ex 'call (int)malloc_info(0, (void*)stdout)'`,
    heapgapCommand: `node ${CLI} inspect|trim PID --json`,
    heapgapBCommand: CLI_B ? `node ${CLI_B} inspect PID --json` : null,
    gitHead: (await execa('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { reject: false })).stdout.trim() || null,
    results,
    failed,
  };
  const text = table(results);
  const notes = [
    'felt = longest ticker gap overlapping the arm\'s session window (C targets; else the longest gap since the reset); felt in stops = the same without the gaps that lie wholly inside a call, when every thread runs (heapgap arms); ratios are of medians.',
    `load average (1 min) before -> after: ${doc.machine.loadavg1.join(' -> ')}`,
    ...results.flatMap((r) => r.errors.map((e) => `error: ${r.target}: ${e}`)),
    ...failed.map((f) => `failed: ${f}`),
  ].join('\n');
  if (opts.json) {
    process.stderr.write(`${text}\n${notes}\n`);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else process.stdout.write(`${text}\n${notes}\n`);
  for (const r of results) if (!r.targetAliveAtEnd) process.stderr.write(`bench-pause: the ${r.target} target was not alive at the end\n`);
}

await main();
