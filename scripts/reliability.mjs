#!/usr/bin/env node
// heapgap reliability run: many real inspect/trim calls against live, busy targets, each one
// followed by a health check of the target; then heapgap's own process is interrupted at random
// moments. See fixtures/safety/README.md.
//
//   node scripts/reliability.mjs [--calls 1000] [--interrupts 60] [--out FILE] [--seed N]
//                                [--no-jvm] [--no-allocators] [--jvm-threads 30] [--churn-threads 4]
//                                [--big-heap MIB] [--minutes M] [--cli PATH] [--verbose]
//
// --minutes bounds the calls' part of the run: it stops starting calls after M minutes (the
// interruptions still follow) and the summary says how many were made.
//
// --big-heap (default 1024, 0 for none) adds fixtures/targets/big-heap.c: a main-arena heap of that
// many MiB in millions of chunks, a third of them free, whose main thread keeps allocating: the
// free-list check and malloc_info have their most work there.
//
// Besides glibc's churn target (and the JVM), the same churn runs under jemalloc and tcmalloc
// (fixtures/targets/alloc-stats.c with LD_PRELOAD) where Debian's libjemalloc2 / libtcmalloc-minimal4
// are installed: their release calls are made on every 10th call, like malloc_trim's.
//
// --cli runs another build of heapgap (default dist/cli/main.js of this checkout); useful to pin a
// snapshot of the build while dist/ is being rebuilt.
//
// Needs: a built dist/ (npx tsc -p tsconfig.json), gcc, gdb, and for the JVM target javac/java.
// Exit status: 0 when every call left its target healthy and no heapgap run hung or crashed, else 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { heapgapCommand } from './lib/cli.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let CLI = join(ROOT, 'dist', 'cli', 'main.js');
const CALL_BOUND_MS = 60_000;
const PROGRESS_WINDOW_MS = 2_000;

// ---- options ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { calls: 1000, interrupts: 60, out: null, seed: 20240601, jvm: true, allocators: true, jvmThreads: 30, churnThreads: 4, bigHeap: 1024, minutes: 0, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const v = val();
      if (!/^\d+$/.test(v)) usage(`${a}: expected a non-negative integer, got ${v}`);
      return Number(v);
    };
    if (a === '--calls') o.calls = int();
    else if (a === '--interrupts') o.interrupts = int();
    else if (a === '--out') o.out = val();
    else if (a === '--seed') o.seed = int();
    else if (a === '--no-jvm') o.jvm = false;
    else if (a === '--no-allocators') o.allocators = false;
    else if (a === '--jvm-threads') o.jvmThreads = int();
    else if (a === '--churn-threads') o.churnThreads = int();
    else if (a === '--big-heap') o.bigHeap = int();
    else if (a === '--minutes') o.minutes = int();
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--cli') o.cli = resolve(val());
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  return o;
}

function usage(err) {
  const text = 'usage: node scripts/reliability.mjs [--calls N] [--interrupts N] [--out FILE] [--seed N] [--no-jvm] [--no-allocators] [--jvm-threads N] [--churn-threads N] [--big-heap MIB] [--minutes M] [--cli PATH] [--verbose]\n';
  if (err) {
    process.stderr.write(`reliability: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

// ---- small utilities -------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so the interruption schedule is reproducible. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(msg) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, median: null, p95: null, max: null };
  const q = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
  const r = (x) => Math.round(x * 10) / 10;
  return { n: v.length, median: r(q(0.5)), p95: r(q(0.95)), max: r(v[v.length - 1]) };
}

/** Independent reading of /proc/PID/status (not heapgap's parser). */
function procState(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { alive: false, state: null, tracerPid: null };
  }
  const state = /^State:\s*(\S)/m.exec(text)?.[1] ?? null;
  const tracer = /^TracerPid:\s*(\d+)/m.exec(text)?.[1];
  return { alive: state !== null && state !== 'Z' && state !== 'X', state, tracerPid: tracer === undefined ? null : Number(tracer) };
}

function memfds(pid) {
  const out = [];
  let names = [];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${n}`);
      if (link.startsWith('/memfd:')) out.push(`${n} -> ${link}`);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** gdb processes still running against pid (after a hang: who holds the target). */
function gdbsOn(pid) {
  const found = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)gdb$/.test(argv[0] ?? '') && argv.some((a) => a === `attach ${pid}` || a === `python heapgap.heapgap_attach(${pid})` || a === String(pid) || a === `/proc/${pid}/exe`)) found.push(Number(d));
    } catch {
      // gone
    }
  }
  return found;
}

/** What heapgap wrote on stderr: progress lines are `heapgap: ` too, so they are told apart by content. */
const PROGRESS = /^heapgap: (glibc \S+ at .*; attaching to \d+|[a-z]+: nothing to call; reading \/proc only|attached; calling .*|detached; measuring|no thread was at a safe point; trying again .*|a thread is in uninterruptible sleep; trying again .*|an arena was being changed by a stopped thread; trying again .*|captured pid \d+ to .*|SIG[A-Z]+ received; finishing safely.*|still waiting for the target to be released.*)$/;
/** stdout holds one whole JSON document: the run had written its report before the signal. */
function completeJson(stdout) {
  try {
    JSON.parse(String(stdout ?? ''));
    return String(stdout ?? '').trim() !== '';
  } catch {
    return false;
  }
}

function stderrShape(stderr) {
  const lines = stderr.split('\n').filter((l) => l !== '');
  const heapgap = lines.filter((l) => l.startsWith('heapgap: '));
  const errors = heapgap.filter((l) => !PROGRESS.test(l));
  return {
    heapgapLines: heapgap.length,
    errorLines: errors,
    hints: lines.filter((l) => l.startsWith('hint: ')).length,
    other: lines.filter((l) => !l.startsWith('heapgap: ') && !l.startsWith('hint: ')),
    stackTrace: /^\s+at .+/m.test(stderr) || /\n\s+at .*:\d+:\d+/.test(stderr),
    internal: /internal error/.test(stderr),
  };
}

function classifyRefusal(msg) {
  if (/no thread is parked/.test(msg)) return 'no safe thread';
  if (/waited on an allocator lock/.test(msg)) return 'call timeout (unwound)';
  if (/timed out/.test(msg)) return 'run timeout';
  if (/already traced/.test(msg)) return 'already traced';
  if (/is stopped/.test(msg)) return 'target stopped';
  if (/exited while/.test(msg)) return 'target exited';
  if (/not allowed to attach/.test(msg)) return 'ptrace denied';
  if (/more free chunks than heapgap checks/.test(msg)) return 'heap too big to check whole (trim)';
  if (/trim refused before (any call|malloc_trim)/.test(msg)) return `trim refused: free lists not all walked (${/time ran out/.test(msg) ? 'time' : 'steps'})`;
  return `other: ${msg.replace(/^heapgap: /, '').slice(0, 100)}`;
}

// ---- targets ---------------------------------------------------------------------------------

async function buildChurn(work) {
  const bin = join(work, 'churn');
  const r = await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', bin, join(ROOT, 'fixtures', 'targets', 'churn.c')], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return bin;
}

async function buildAllocStats(work) {
  const bin = join(work, 'alloc-stats');
  const r = await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', bin, join(ROOT, 'fixtures', 'targets', 'alloc-stats.c')], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`gcc alloc-stats.c failed: ${r.stderr}`);
  return bin;
}

async function buildJvm(work) {
  const dir = join(work, 'jvm');
  const r = await execa('javac', ['-d', dir, join(ROOT, 'fixtures', 'targets', 'BusyJvm.java')], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`javac failed: ${r.stderr || r.message}`);
  return dir;
}

/** Starts a target that prints one JSON ready line and writes its progress counter to a file. */
async function startTarget(name, file, args, progressFile, env = {}, readyMs = 30_000) {
  const proc = execa(file, args, { stdin: 'ignore', buffer: false, reject: false, cleanup: true, env, extendEnv: true });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    if (stderr.length < 65536) stderr += d;
  });
  let exited = null;
  const done = proc.then((r) => {
    exited = r;
    return r;
  });
  const line = await new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`${name}: no ready line within ${readyMs / 1000} s; stderr: ${stderr}`)), readyMs);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        res(buf.slice(0, nl));
      }
    });
    done.then(() => {
      clearTimeout(timer);
      rej(new Error(`${name} exited before its ready line; stderr: ${stderr}`));
    });
  });
  proc.stdout.resume();
  const ready = JSON.parse(line);
  if (ready.ready !== true || ready.pid !== proc.pid) throw new Error(`${name}: bad ready line ${line}`);
  // Wait for the first progress value.
  for (let i = 0; i < 300 && readProgress(progressFile) === null; i++) await sleep(10);
  return {
    name,
    pid: proc.pid,
    proc,
    progressFile,
    baselineMemfds: memfds(proc.pid),
    stderr: () => stderr,
    exit: () => exited,
    async stop() {
      if (exited) return;
      try {
        process.kill(proc.pid, 'SIGCONT');
        process.kill(proc.pid, 'SIGTERM');
      } catch {
        // gone
      }
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}

function readProgress(file) {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The after-conditions every heapgap run must leave behind. */
async function checkTarget(t) {
  const st = procState(t.pid);
  const res = { alive: st.alive, state: st.state, tracerPid: st.tracerPid, leftStopped: false, leftTraced: false, tracedBriefly: false, memfds: [], progress: null };
  if (!st.alive) return res;
  if (st.tracerPid !== 0) {
    // heapgap waits for TracerPid 0 before it exits; look again to tell a slow release from a leak.
    await sleep(500);
    const again = procState(t.pid);
    if (again.tracerPid !== 0) res.leftTraced = true;
    else res.tracedBriefly = true;
  }
  if (st.state === 'T' || st.state === 't') res.leftStopped = true;
  res.memfds = memfds(t.pid).filter((m) => !t.baselineMemfds.includes(m));
  const p0 = readProgress(t.progressFile);
  const start = Date.now();
  let p = p0;
  while (Date.now() - start < PROGRESS_WINDOW_MS) {
    await sleep(20);
    p = readProgress(t.progressFile);
    if (p0 !== null && p !== null && p > p0) break;
  }
  res.progress = { before: p0, after: p, ms: Date.now() - start, advanced: p0 !== null && p !== null && p > p0 };
  if (!res.progress.advanced) {
    // A stall: is the process stopped now, or still traced?
    const late = procState(t.pid);
    res.progress.stateAfter = late.state;
    res.progress.tracerAfter = late.tracerPid;
  }
  return res;
}

function healthy(c) {
  return c.alive && !c.leftStopped && !c.leftTraced && c.memfds.length === 0 && c.progress?.advanced === true;
}

// ---- part a: many calls ------------------------------------------------------------------------

function newCounters() {
  return {
    calls: 0, inspect: 0, trim: 0, ok: 0, refused: 0, refusedBy: {}, interrupted: 0, hangs: 0, cliCrashes: 0, badOutput: 0,
    targetDeaths: 0, leftStopped: 0, leftTraced: 0, tracedBriefly: 0, memfdLeaks: 0, progressStalls: 0, restarts: 0,
    notes: {}, stoppedMs: [], stoppedMsTrim: [], wallMs: [], failures: [],
  };
}

async function oneCall(t, mode, c, verbose) {
  const started = Date.now();
  const r = await execa(...heapgapCommand(CLI, [mode, String(t.pid), '--json']), {
    reject: false, stdin: 'ignore', timeout: CALL_BOUND_MS, killSignal: 'SIGKILL',
    env: { NO_COLOR: '1' }, extendEnv: true, stripFinalNewline: false,
  });
  const wall = Date.now() - started;
  c.calls++;
  c[mode]++;
  c.wallMs.push(wall);
  const shape = stderrShape(String(r.stderr ?? ''));
  const rec = { target: t.name, mode, pid: t.pid, exitCode: r.exitCode ?? null, signal: r.signal ?? null, wallMs: wall };
  let klass;
  if (r.timedOut) {
    klass = 'hang';
    c.hangs++;
    rec.gdbLeft = gdbsOn(t.pid);
  } else if (shape.stackTrace || shape.internal || (r.exitCode !== 0 && r.exitCode !== 3 && r.exitCode !== 130) || (r.exitCode !== 0 && shape.errorLines.length !== 1)) {
    klass = 'cli-crash';
    c.cliCrashes++;
  } else if (r.exitCode === 0) {
    let doc = null;
    try {
      doc = JSON.parse(String(r.stdout));
    } catch {
      // below
    }
    const schema = mode === 'trim' ? 'heapgap.trim/2' : 'heapgap.inspect/2';
    if (!doc || doc.schema !== schema) {
      klass = 'bad-output';
      c.badOutput++;
    } else {
      klass = 'ok';
      c.ok++;
      const ms = doc.pause?.stoppedMs;
      if (typeof ms === 'number') (mode === 'trim' ? c.stoppedMsTrim : c.stoppedMs).push(ms);
      rec.stoppedMs = ms ?? null;
      for (const n of doc.notes ?? []) {
        const key = String(n).replace(/\d+/g, 'N');
        c.notes[key] = (c.notes[key] ?? 0) + 1;
      }
    }
  } else if (r.exitCode === 130) {
    klass = 'interrupted';
    c.interrupted++;
  } else {
    klass = 'refused';
    c.refused++;
    const why = classifyRefusal(shape.errorLines[0] ?? '');
    c.refusedBy[why] = (c.refusedBy[why] ?? 0) + 1;
    rec.message = shape.errorLines[0];
  }
  rec.klass = klass;
  const check = await checkTarget(t);
  rec.check = check;
  if (!check.alive) c.targetDeaths++;
  if (check.leftStopped) c.leftStopped++;
  if (check.leftTraced) c.leftTraced++;
  if (check.tracedBriefly) c.tracedBriefly++;
  if (check.memfds.length > 0) c.memfdLeaks++;
  if (check.alive && check.progress && !check.progress.advanced) c.progressStalls++;
  const bad = klass === 'hang' || klass === 'cli-crash' || klass === 'bad-output' || klass === 'interrupted' || !healthy(check);
  if (bad) {
    rec.stderr = String(r.stderr ?? '').slice(0, 4000);
    rec.stdoutHead = String(r.stdout ?? '').slice(0, 300);
    if (!check.alive) rec.targetStderr = t.stderr().slice(-2000);
    c.failures.push(rec);
    log(`!! ${t.name} ${mode} #${c.calls}: ${klass}, exit ${rec.exitCode}${rec.signal ? ` (${rec.signal})` : ''}, target ${JSON.stringify({ alive: check.alive, state: check.state, tracer: check.tracerPid, memfds: check.memfds, progress: check.progress })}`);
  } else if (verbose) {
    log(`${t.name} ${mode} #${c.calls}: ${klass}${rec.stoppedMs !== undefined ? ` stopped ${rec.stoppedMs} ms` : ''} ${rec.message ?? ''}`);
  }
  return { rec, check };
}

// ---- part b: interruption ----------------------------------------------------------------------

function newInterruptCounters() {
  return {
    runs: 0, bySignal: { SIGINT: 0, SIGTERM: 0 }, doubleSignal: 0,
    outcomes: {}, // interrupted | completed (...) | completed-despite-signal | refused: <why> | killed-before-handlers | other
    cleanExit: 0, badStderr: 0, stackTraces: 0, hangs: 0,
    targetDeaths: 0, leftStopped: 0, leftTraced: 0, memfdLeaks: 0, progressStalls: 0, restarts: 0,
    delaysMs: [], failures: [],
  };
}

/**
 * One heapgap run interrupted by SIGINT/SIGTERM. Node needs a few hundred ms to load the CLI on a
 * busy host, so a delay counted from spawn mostly lands before heapgap's handlers exist: a third of
 * the runs count the delay from spawn, the rest from heapgap's "attaching to" progress line, so the
 * signal lands while gdb starts, attaches, calls, detaches, or while heapgap measures afterwards.
 */
async function oneInterrupt(t, rnd, c, verbose) {
  const sig = rnd() < 0.5 ? 'SIGINT' : 'SIGTERM';
  const delay = Math.floor(rnd() * 401);
  const anchor = rnd() < 1 / 3 ? 'spawn' : 'attaching';
  const mode = rnd() < 0.25 ? 'trim' : 'inspect';
  const twice = rnd() < 0.2; // a second signal 30-150 ms later ("still waiting" path)
  const secondAfter = 30 + Math.floor(rnd() * 121);
  c.runs++;
  c.bySignal[sig]++;
  if (twice) c.doubleSignal++;
  c.delaysMs.push(delay);
  const rec = { target: t.name, mode, signal: sig, anchor, delayMs: delay, twice, phase: null };
  const child = execa(...heapgapCommand(CLI, [mode, String(t.pid), '--json']), {
    reject: false, stdin: 'ignore', timeout: CALL_BOUND_MS, killSignal: 'SIGKILL', env: { NO_COLOR: '1' }, extendEnv: true,
  });
  const timers = [];
  const fire = () => {
    // What heapgap had said when the signal went out tells when it landed.
    rec.phase = /detached; measuring/.test(said) ? 'after detach' : /attached; calling/.test(said) ? 'attached (call)' : /attaching to/.test(said) ? 'gdb starting/attaching' : 'startup';
    child.kill(sig);
    if (twice) timers.push(setTimeout(() => child.kill(sig), secondAfter));
  };
  let said = '';
  let armed = false;
  child.stderr.on('data', (d) => {
    said += d.toString();
    if (anchor === 'attaching' && !armed && /attaching to/.test(said)) {
      armed = true;
      timers.push(setTimeout(fire, delay));
    }
  });
  if (anchor === 'spawn') timers.push(setTimeout(fire, delay));
  const r = await child;
  timers.forEach(clearTimeout);
  if (rec.phase === null) rec.phase = 'never sent (run ended first)';
  const stderr = String(r.stderr ?? '');
  const shape = stderrShape(stderr);
  rec.exitCode = r.exitCode ?? null;
  rec.killedBy = r.signal ?? null;
  rec.stdoutBytes = String(r.stdout ?? '').length;
  const lines = stderr.split('\n');
  const at = (re) => lines.findIndex((l) => re.test(l));
  const received = at(/received; finishing safely/);
  const attached = at(/attached; calling /); // whatever the allocator calls (malloc_info, mallctl, ...)
  const detached = at(/detached; measuring/);
  let outcome;
  if (r.timedOut) {
    outcome = 'hang';
    c.hangs++;
    rec.gdbLeft = gdbsOn(t.pid);
  } else if (r.exitCode === undefined && r.signal === sig && shape.heapgapLines === 0) {
    // The signal arrived before main.ts installed its handlers: node's default action, nothing touched.
    outcome = 'killed-before-handlers';
  } else if (r.exitCode === undefined && r.signal === sig && (shape.errorLines.length === 1 || (shape.errorLines.length === 0 && completeJson(r.stdout)))) {
    // heapgap had finished (its error line, or its whole report, is out) and a later signal hit node
    // while it was exiting, after its handlers were gone: the exit status is the signal instead of
    // 130 or 0. Benign race.
    outcome = 'killed by a later signal while exiting';
  } else if (r.exitCode === 0 && rec.phase.startsWith('never')) {
    outcome = 'completed (no signal sent)';
  } else if (r.exitCode === 0 && received >= 0 && (attached < 0 || received < attached)) {
    // heapgap said it would stop before gdb had attached, then attached and ran the call(s) anyway.
    outcome = 'completed-despite-signal';
  } else if (r.exitCode === 0 && received >= 0 && detached >= 0 && received > detached) {
    outcome = 'completed (signal after detach)';
  } else if (r.exitCode === 0 && received >= 0) {
    outcome = 'completed (signal during the call: finished it)';
  } else if (r.exitCode === 0) {
    outcome = 'completed (signal not seen)';
  } else if (r.exitCode === 130) {
    outcome = 'interrupted';
  } else if (r.exitCode === 3) {
    outcome = `refused: ${classifyRefusal(shape.errorLines[0] ?? '')}`;
  } else {
    outcome = `other (exit ${r.exitCode ?? r.signal})`;
  }
  if (r.exitCode === 0 && mode === 'trim') {
    try {
      const doc = JSON.parse(String(r.stdout));
      rec.trim = { returned: doc.returned ?? null, dryRun: doc.dryRun ?? null, releasedBytes: doc.releasedBytes ?? null };
    } catch {
      rec.trim = 'stdout is not JSON';
    }
  }
  rec.outcome = outcome;
  c.outcomes[outcome] = (c.outcomes[outcome] ?? 0) + 1;
  if (shape.stackTrace || shape.internal) c.stackTraces++;
  const stderrOk = outcome === 'killed-before-handlers' || ((r.exitCode === 0 ? shape.errorLines.length === 0 : shape.errorLines.length === 1) && !shape.stackTrace && !shape.internal && shape.other.length === 0);
  if (stderrOk) c.cleanExit++;
  else c.badStderr++;
  rec.heapgapLines = shape.heapgapLines;
  rec.errorLine = shape.errorLines[0] ?? null;
  const check = await checkTarget(t);
  rec.check = check;
  if (!check.alive) c.targetDeaths++;
  if (check.leftStopped) c.leftStopped++;
  if (check.leftTraced) c.leftTraced++;
  if (check.memfds.length > 0) c.memfdLeaks++;
  if (check.alive && check.progress && !check.progress.advanced) c.progressStalls++;
  const bad = outcome === 'hang' || outcome.startsWith('other') || outcome === 'completed-despite-signal' || !stderrOk || !healthy(check);
  if (bad) {
    rec.stderr = stderr.slice(0, 4000);
    if (!check.alive) rec.targetStderr = t.stderr().slice(-2000);
    c.failures.push(rec);
    log(`!! interrupt ${t.name} ${mode} ${sig}${twice ? ' x2' : ''} ${delay} ms after ${anchor} (${rec.phase}): ${outcome}, target ${JSON.stringify({ alive: check.alive, state: check.state, tracer: check.tracerPid, progress: check.progress })}`);
  } else if (verbose) {
    log(`interrupt ${t.name} ${mode} ${sig}${twice ? ' x2' : ''} ${delay} ms after ${anchor} (${rec.phase}): ${outcome}${rec.errorLine ? ` [${rec.errorLine}]` : ''}${rec.trim ? ` trim=${JSON.stringify(rec.trim)}` : ''}`);
  }
  (c.samples ??= []).push({ target: rec.target, mode, signal: sig, twice, anchor, delayMs: delay, phase: rec.phase, outcome, exitCode: rec.exitCode, heapgapLines: rec.heapgapLines, errorLine: rec.errorLine, trim: rec.trim });
  return { rec, check };
}

// ---- main ----------------------------------------------------------------------------------------

function table(rows, headers) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (r) => r.map((x, i) => String(x).padStart(w[i])).join('  ');
  return [fmt(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(fmt)].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.cli) CLI = opts.cli;
  opts.cli = CLI;
  if (!existsSync(CLI)) {
    process.stderr.write(`reliability: ${CLI} not found: build first (npx tsc -p tsconfig.json)\n`);
    process.exit(2);
  }
  const haveJava = spawnSync('javac', ['-version'], { stdio: 'ignore' }).status === 0 && spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
  if (opts.jvm && !haveJava) {
    log('javac/java not found: running without the JVM target');
    opts.jvm = false;
  }
  const work = mkdtempSync(join(tmpdir(), 'heapgap-reliability-'));
  const targets = [];
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const rnd = prng(opts.seed);
  const specs = [];
  try {
    const churnBin = await buildChurn(work);
    specs.push({ name: 'churn', start: () => startTarget('churn', churnBin, [String(opts.churnThreads), join(work, 'churn.progress')], join(work, 'churn.progress')) });
    if (opts.allocators) {
      const allocStats = await buildAllocStats(work);
      for (const [name, lib] of [['jemalloc', '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'], ['tcmalloc', '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4']]) {
        if (!existsSync(lib)) {
          log(`${lib} not found: running without the ${name} churn target`);
          continue;
        }
        const progress = join(work, `churn-${name}.progress`);
        specs.push({ name: `churn-${name}`, start: () => startTarget(`churn-${name}`, allocStats, [String(opts.churnThreads), '2000', '200', '65536', '1', progress], progress, { LD_PRELOAD: lib }) });
      }
    }
    if (opts.bigHeap > 0) {
      const bin = join(work, 'big-heap');
      const r = await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', bin, join(ROOT, 'fixtures', 'targets', 'big-heap.c')], { reject: false, stdin: 'ignore' });
      if (r.exitCode !== 0) throw new Error(`gcc failed: ${r.stderr}`);
      const progress = join(work, 'big-heap.progress');
      specs.push({ name: 'big-heap', start: () => startTarget('big-heap', bin, [String(opts.bigHeap), '2048', '3', '1', '0', progress], progress, {}, 180_000) }); // filling 1 GiB next to busy targets: about 30 s
    }
    if (opts.jvm) {
      const cp = await buildJvm(work);
      const jvmArgs = ['-Xmx256m', '-XX:MaxDirectMemorySize=64m', '-cp', cp, 'BusyJvm', String(opts.jvmThreads), join(work, 'jvm.progress')];
      specs.push({ name: 'jvm', start: () => startTarget('jvm', 'java', jvmArgs, join(work, 'jvm.progress')) });
    }
    for (const s of specs) {
      const t = await s.start();
      log(`${t.name} running as pid ${t.pid}`);
      targets.push(t);
    }

    // a. calls, alternating between targets; every 10th call on a target is a trim.
    const calls = Object.fromEntries(specs.map((s) => [s.name, newCounters()]));
    const callsUntil = opts.minutes > 0 ? Date.now() + opts.minutes * 60_000 : Infinity;
    let made = 0;
    for (let i = 0; i < opts.calls; i++) {
      if (Date.now() >= callsUntil) {
        log(`--minutes ${opts.minutes} reached after ${i} of ${opts.calls} calls`);
        break;
      }
      made = i + 1;
      const k = i % targets.length;
      const t = targets[k];
      const c = calls[t.name];
      const mode = (c.calls + 1) % 10 === 0 ? 'trim' : 'inspect';
      const { check } = await oneCall(t, mode, c, opts.verbose);
      if (!check.alive || check.leftStopped || check.leftTraced) {
        await t.stop();
        targets[k] = await specs[k].start();
        c.restarts++;
        log(`${t.name} restarted as pid ${targets[k].pid}`);
      }
      if ((i + 1) % 50 === 0) log(`calls: ${i + 1}/${opts.calls} (${Object.entries(calls).map(([n, x]) => `${n} ok ${x.ok}/${x.calls}`).join(', ')})`);
    }

    // b. interruption.
    const interrupts = Object.fromEntries(specs.map((s) => [s.name, newInterruptCounters()]));
    for (let i = 0; i < opts.interrupts; i++) {
      const k = i % targets.length;
      const t = targets[k];
      const { check } = await oneInterrupt(t, rnd, interrupts[t.name], opts.verbose);
      if (!check.alive || check.leftStopped || check.leftTraced) {
        await t.stop();
        targets[k] = await specs[k].start();
        interrupts[t.name].restarts++;
        log(`${t.name} restarted as pid ${targets[k].pid}`);
      }
      if ((i + 1) % 10 === 0) log(`interrupts: ${i + 1}/${opts.interrupts}`);
    }

    // ---- summary ----
    const summary = {
      schema: 'heapgap.reliability/1',
      startedAt,
      wallSeconds: Math.round((Date.now() - t0) / 1000),
      callsMade: made,
      options: opts,
      host: { node: process.version, gdb: spawnSync('gdb', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? null, nproc: (await import('node:os')).availableParallelism() },
      calls: Object.fromEntries(Object.entries(calls).map(([n, c]) => [n, {
        calls: c.calls, inspect: c.inspect, trim: c.trim, ok: c.ok, refused: c.refused, refusedBy: c.refusedBy, interrupted: c.interrupted,
        hangs: c.hangs, cliCrashes: c.cliCrashes, badOutput: c.badOutput, targetDeaths: c.targetDeaths, leftStopped: c.leftStopped,
        leftTraced: c.leftTraced, tracedBriefly: c.tracedBriefly, memfdLeaks: c.memfdLeaks, progressStalls: c.progressStalls, restarts: c.restarts,
        stoppedMs: { inspect: stats(c.stoppedMs), trim: stats(c.stoppedMsTrim), all: stats([...c.stoppedMs, ...c.stoppedMsTrim]) },
        wallMs: stats(c.wallMs), notes: c.notes, failures: c.failures,
      }])),
      interrupts: Object.fromEntries(Object.entries(interrupts).map(([n, c]) => [n, {
        runs: c.runs, bySignal: c.bySignal, doubleSignal: c.doubleSignal, outcomes: c.outcomes, cleanExit: c.cleanExit, badStderr: c.badStderr,
        stackTraces: c.stackTraces, hangs: c.hangs, targetDeaths: c.targetDeaths, leftStopped: c.leftStopped, leftTraced: c.leftTraced,
        memfdLeaks: c.memfdLeaks, progressStalls: c.progressStalls, restarts: c.restarts, runsDetail: c.samples ?? [], failures: c.failures,
      }])),
    };
    const a = summary.calls;
    const rowsA = Object.entries(a).map(([n, c]) => [n, c.calls, c.ok, c.refused, c.hangs, c.cliCrashes + c.badOutput, c.targetDeaths, c.leftStopped, c.leftTraced, c.memfdLeaks, c.progressStalls,
      c.stoppedMs.inspect.median ?? '-', c.stoppedMs.inspect.p95 ?? '-', c.stoppedMs.inspect.max ?? '-', c.stoppedMs.trim.median ?? '-', c.stoppedMs.trim.max ?? '-']);
    process.stdout.write(`\nheapgap reliability: ${Object.values(a).reduce((s, c) => s + c.calls, 0)} calls, ${opts.interrupts} interruptions, ${summary.wallSeconds} s\n\n`);
    process.stdout.write(`${table(rowsA, ['target', 'calls', 'ok', 'refused', 'hangs', 'crash', 'died', 'stopped', 'traced', 'memfd', 'stalls', 'stop med', 'stop p95', 'stop max', 'trim med', 'trim max'])}\n`);
    for (const [n, c] of Object.entries(a)) {
      if (Object.keys(c.refusedBy).length) process.stdout.write(`  ${n} refusals: ${Object.entries(c.refusedBy).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
      if (Object.keys(c.notes).length) process.stdout.write(`  ${n} notes: ${Object.entries(c.notes).map(([k, v]) => `"${k}" ${v}`).join(', ')}\n`);
    }
    const b = summary.interrupts;
    const sumOf = (o, pred) => Object.entries(o).filter(([k]) => pred(k)).reduce((x, [, v]) => x + v, 0);
    const rowsB = Object.entries(b).map(([n, c]) => [n, c.runs, c.outcomes.interrupted ?? 0, sumOf(c.outcomes, (k) => k.startsWith('completed (')), c.outcomes['completed-despite-signal'] ?? 0,
      c.outcomes['killed-before-handlers'] ?? 0, sumOf(c.outcomes, (k) => k.startsWith('refused')), c.hangs, c.badStderr, c.targetDeaths, c.leftStopped, c.leftTraced, c.memfdLeaks, c.progressStalls]);
    process.stdout.write(`\n${table(rowsB, ['target', 'runs', 'interrupted', 'completed', 'ignored sig', 'pre-handler', 'refused', 'hangs', 'bad stderr', 'died', 'stopped', 'traced', 'memfd', 'stalls'])}\n`);
    for (const [n, c] of Object.entries(b)) process.stdout.write(`  ${n} outcomes: ${Object.entries(c.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    if (opts.out) {
      writeFileSync(opts.out, `${JSON.stringify(summary, null, 2)}\n`);
      process.stdout.write(`\nwritten to ${opts.out}\n`);
    }
    const failed = [...Object.values(a), ...Object.values(b)].some((c) => c.failures.length > 0);
    process.exitCode = failed ? 1 : 0;
  } finally {
    for (const t of targets) await t.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`reliability: ${e?.stack ?? e}\n`);
  process.exit(2);
});
