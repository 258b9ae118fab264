#!/usr/bin/env node
// bench-pause.mjs — how long does the target itself feel stopped: plain `gdb -p ... call malloc_info`
// vs `heapgap inspect`, measured by targets that time their own 1 ms ticks.
//
//   node scripts/bench-pause.mjs [--rounds 7] [--targets c,node,python,java] [--settle 300] [--json]
//                                [--python python3] [--plain-timeout 120] [--cli path/to/main.js]
//                                [--cli-b path/to/other/main.js]
//
// Targets (each reports the longest gap between its 1 ms ticks since the last report, then resets):
//   c       fixtures/targets/stall-meter.c (ticker thread + parked workers + sigwaitinfo main thread)
//   node    fixtures/targets/stall-meter.mjs (setInterval 1 ms on the event loop)
//   python  a python3 loop around time.sleep(0.001) with one parked helper thread (inline below)
//   java    fixtures/targets/StallMeter.java (a thread parking 1 ms at a time, 8 churning workers;
//           asked with a line "report" on stdin instead of SIGUSR1, which the JVM reserves)
// For each target, in one run and alternating which goes first, every round does:
//   plain:   gdb --batch -iex 'set tdesc filename …/amd64-linux-sse.xml' -p PID
//                -ex 'call (int)malloc_info(0, (void*)stdout)'
//   heapgap: node dist/cli/main.js inspect PID --json
//   idle:    nothing, for as long as the heapgap run took (the noise floor of the meter itself)
// each preceded by a reset (SIGUSR1, answer discarded) and followed by a report (SIGUSR1): the
// target-observed stall of that arm. The targets' stdout is /dev/null: that is where the plain
// recipe's malloc_info XML goes; their reports come on stderr.
// Prints a table (medians, min–max) and, with --json, the whole data set as JSON on stdout.
// Nothing here asserts on time: it reports figures.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let CLI = join(ROOT, 'dist', 'cli', 'main.js');
let CLI_B = null; // --cli-b: a second build, run as a fourth arm in the same rounds
// gdb 13 cannot write back the AVX xstate regset on kernels with AMX: after an inferior call the
// register restore fails, orig_rax is left at -1 and every syscall the target was blocked in returns
// -ERESTARTSYS (glibc then aborts, e.g. "The futex facility returned an unexpected error code").
// heapgap loads this FXSAVE-only target description for that reason; the plain recipe needs the
// same line or the target dies after the first call. It changes only how registers are saved and
// restored, not what gdb loads at attach, so the comparison of stop lengths stays fair.
const TDESC = join(ROOT, 'src', 'collect', 'safe-call', 'amd64-linux-sse.xml');

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

function parseArgs(argv) {
  const o = { rounds: 7, targets: ['c', 'node', 'python'], settle: 300, json: false, python: 'python3', plainTimeout: 120 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--rounds') o.rounds = posInt(val(), a);
    else if (a === '--targets') o.targets = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--settle') o.settle = posInt(val(), a, true);
    else if (a === '--python') o.python = val();
    else if (a === '--plain-timeout') o.plainTimeout = posInt(val(), a);
    else if (a === '--cli') CLI = resolve(val());
    else if (a === '--cli-b') CLI_B = resolve(val());
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  for (const t of o.targets) if (!['c', 'node', 'python', 'java'].includes(t)) usage(`unknown target ${t}`);
  return o;
}

function usage(err) {
  const text = 'usage: node scripts/bench-pause.mjs [--rounds 7] [--targets c,node,python,java] [--settle ms] [--python python3] [--plain-timeout s] [--cli dist/cli/main.js] [--cli-b other/main.js] [--json]';
  if (err) {
    console.error(`bench-pause: ${err}\n${text}`);
    process.exit(2);
  }
  console.log(text);
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
const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

/** Starts a meter target and gives a way to ask it for its longest gap since the last ask. */
async function startMeter(kind, dir, opts) {
  let file;
  let args;
  if (kind === 'c') {
    const src = join(ROOT, 'fixtures', 'targets', 'stall-meter.c');
    file = join(dir, 'stall-meter');
    await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', file, src], { stdin: 'ignore' });
    args = ['3'];
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
  const child = execa(file, args, { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false, cleanup: true });
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
        const msg = JSON.parse(line.slice('stall-meter '.length));
        reports.push(msg);
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
  const ready = await next((m) => m.ready === true, 'ready line');
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
      await Promise.race([child, sleep(3000)]);
      if (!exited) child.kill('SIGKILL');
    }
  };
  return { kind, pid, exe: kind === 'python' ? opts.python : kind === 'java' ? 'java' : file, ask, alive, stop, exited: () => exited, stderr: otherStderr };
}

function procState(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    return /^State:\s+(\S)/m.exec(s)?.[1] ?? null;
  } catch {
    return null;
  }
}

async function plainArm(pid, timeoutS) {
  const args = ['--batch', '-iex', `set tdesc filename ${TDESC}`, '-p', String(pid), '-ex', 'call (int)malloc_info(0, (void*)stdout)'];
  const t0 = performance.now();
  const r = await execa('gdb', args, { stdin: 'ignore', reject: false, timeout: timeoutS * 1000, killSignal: 'SIGKILL', env: { LC_ALL: 'C' } });
  const wallMs = performance.now() - t0;
  const ok = r.exitCode === 0 && /\$1 = 0\b/.test(r.stdout);
  return { wallMs, ok, detail: ok ? null : `gdb exit ${r.exitCode ?? r.signal}${r.timedOut ? ' (timed out, SIGKILLed)' : ''}: ${tail(r.stdout + '\n' + r.stderr)}` };
}

async function heapgapArm(pid, cli) {
  const t0 = performance.now();
  const r = await execa(process.execPath, [cli, 'inspect', String(pid), '--json'], { stdin: 'ignore', reject: false, timeout: 120_000 });
  const wallMs = performance.now() - t0;
  let report = null;
  try {
    report = JSON.parse(r.stdout);
  } catch {}
  const ok = r.exitCode === 0 && report !== null;
  return {
    wallMs,
    ok,
    stoppedMs: report?.pause?.stoppedMs ?? null,
    attachMs: report?.pause?.attachMs ?? null,
    callMs: report?.pause?.callMs ?? null,
    detail: ok ? null : `heapgap exit ${r.exitCode}: ${tail(r.stderr)}`,
  };
}

const tail = (s) => s.trim().split('\n').slice(-4).join(' | ');

async function benchTarget(kind, dir, opts) {
  log(`${kind}: starting target`);
  const meter = await startMeter(kind, dir, opts);
  const rows = { plain: [], heapgap: [], heapgapB: [], idle: [] };
  const out = { target: kind, pid: meter.pid, exe: meter.exe, rounds: [], errors: [] };
  try {
    await sleep(500); // let the runtime finish starting up
    await meter.ask(); // discard start-up gaps
    for (let round = 0; round < opts.rounds; round++) {
      // rotate the tools' order every round; the idle window comes last (it lasts as long as heapgap did)
      const tools = CLI_B ? ['plain', 'heapgap', 'heapgapB'] : ['plain', 'heapgap'];
      const order = [...tools.slice(round % tools.length), ...tools.slice(0, round % tools.length), 'idle'];
      const rec = { round: round + 1, order };
      let heapgapWall = 1000;
      for (const arm of order) {
        await sleep(opts.settle);
        await meter.ask(); // reset right before the stop
        let res;
        if (arm === 'plain') res = await plainArm(meter.pid, opts.plainTimeout);
        else if (arm === 'heapgap') res = await heapgapArm(meter.pid, CLI);
        else if (arm === 'heapgapB') res = await heapgapArm(meter.pid, CLI_B);
        else {
          const t0 = performance.now();
          await sleep(heapgapWall);
          res = { ok: true, wallMs: performance.now() - t0 };
        }
        if (arm === 'heapgap' && res.ok) heapgapWall = res.wallMs;
        if (!meter.alive()) throw new Error(`${kind} target died after the ${arm} arm of round ${round + 1}; its stderr:\n${meter.stderr.join('\n')}`);
        const rep = await meter.ask();
        const entry = { ...res, stallMs: rep.maxGapMs, ticks: rep.ticks, wallMs: r3(res.wallMs) };
        rec[arm] = entry;
        if (res.ok) rows[arm].push(entry);
        else out.errors.push(`round ${round + 1} ${arm}: ${res.detail}`);
      }
      out.rounds.push(rec);
      log(`${kind} round ${round + 1}/${opts.rounds}: plain stall ${fmt(rec.plain.stallMs)} ms (gdb ${fmt(rec.plain.wallMs)} ms), heapgap stall ${fmt(rec.heapgap.stallMs)} ms (stoppedMs ${fmt(rec.heapgap.stoppedMs)}, run ${fmt(rec.heapgap.wallMs)} ms), ${rec.heapgapB ? `B stall ${fmt(rec.heapgapB.stallMs)} ms (stoppedMs ${fmt(rec.heapgapB.stoppedMs)}), ` : ''}idle ${fmt(rec.idle.stallMs)} ms`);
    }
  } finally {
    out.targetAliveAtEnd = meter.alive();
    await meter.stop();
  }
  out.plain = { stallMs: stats(rows.plain.map((e) => e.stallMs)), wallMs: stats(rows.plain.map((e) => e.wallMs)) };
  const summary = (list) => ({
    stallMs: stats(list.map((e) => e.stallMs)),
    stoppedMs: stats(list.map((e) => e.stoppedMs)),
    attachMs: stats(list.map((e) => e.attachMs)),
    callMs: stats(list.map((e) => e.callMs)),
    wallMs: stats(list.map((e) => e.wallMs)),
  });
  out.heapgap = { cli: CLI, ...summary(rows.heapgap) };
  if (CLI_B) out.heapgapB = { cli: CLI_B, ...summary(rows.heapgapB) };
  out.idle = { stallMs: stats(rows.idle.map((e) => e.stallMs)) };
  const ratio = (h) => (out.plain.stallMs.median && h?.stallMs.median !== null && h?.stallMs.median !== undefined ? r3(h.stallMs.median / out.plain.stallMs.median) : null);
  out.ratio = ratio(out.heapgap);
  if (CLI_B) out.ratioB = ratio(out.heapgapB);
  return out;
}

const fmt = (x) => (x === null || x === undefined ? '-' : typeof x === 'number' ? x.toFixed(1) : String(x));
const mm = (s) => (s.n === 0 ? '-' : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`);

function table(results) {
  const head = ['target', 'n', 'plain stall ms', 'heapgap stall ms', 'ratio', 'heapgap stoppedMs', 'idle stall ms', 'plain gdb wall ms', 'heapgap wall ms'];
  const line = (r, h, ratio, name) => [
    name,
    String(Math.min(r.plain.stallMs.n, h.stallMs.n)),
    mm(r.plain.stallMs),
    mm(h.stallMs),
    ratio === null ? '-' : ratio.toFixed(3),
    mm(h.stoppedMs),
    mm(r.idle.stallMs),
    mm(r.plain.wallMs),
    mm(h.wallMs),
  ];
  const lines = results.flatMap((r) => [line(r, r.heapgap, r.ratio, r.target), ...(r.heapgapB ? [line(r, r.heapgapB, r.ratioB, `${r.target} (B)`)] : [])]);
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
  const load = [loadavg()[0]];
  const gdbVersion = (await execa('gdb', ['--version'], { reject: false })).stdout.split('\n')[0];
  const pyVersion = opts.targets.includes('python') ? (await execa(opts.python, ['-c', 'import sys; print(sys.executable, sys.version.split()[0])'], { reject: false })).stdout.trim() : null;
  try {
    for (const kind of opts.targets) results.push(await benchTarget(kind, dir, opts));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const doc = {
    bench: 'pause',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, memGiB: r3(totalmem() / 2 ** 30), node: process.version, gdb: gdbVersion, python: pyVersion, loadavg1: [...load, loadavg()[0]].map((x) => Math.round(x * 100) / 100) },
    rounds: opts.rounds,
    plainRecipe: `gdb --batch -iex 'set tdesc filename ${TDESC}' -p PID -ex 'call (int)malloc_info(0, (void*)stdout)'`,
    heapgapCommand: `node ${CLI} inspect PID --json`,
    heapgapBCommand: CLI_B ? `node ${CLI_B} inspect PID --json` : null,
    gitHead: (await execa('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { reject: false })).stdout.trim() || null,
    results,
  };
  const text = table(results);
  const errors = results.flatMap((r) => r.errors.map((e) => `${r.target}: ${e}`));
  if (opts.json) {
    process.stderr.write(`${text}\nload average (1 min) before -> after: ${doc.machine.loadavg1.join(' -> ')}\n`);
    for (const e of errors) process.stderr.write(`error: ${e}\n`);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
    process.stdout.write('stall = longest gap between the target\'s own 1 ms ticks around one stop; ratio = heapgap/plain medians.\n');
    process.stdout.write(`load average (1 min) before -> after: ${doc.machine.loadavg1.join(' -> ')}\n`);
    for (const e of errors) process.stdout.write(`error: ${e}\n`);
  }
  for (const r of results) if (!r.targetAliveAtEnd) process.stderr.write(`bench-pause: the ${r.target} target was not alive at the end\n`);
}

await main();
