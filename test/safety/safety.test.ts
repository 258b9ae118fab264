// Safety of live calls: after every heapgap run the target must be alive, untraced, not stopped,
// hold no memfd heapgap opened, and keep making progress. Also: interrupting heapgap, targets that
// are already traced, and targets that exit while heapgap works on them. Needs gdb, gcc, python3.
// The long version of the first test is scripts/reliability.mjs (see fixtures/safety/README.md).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli, spawnCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { buildTarget, procFds, procState, startTarget, stopAllTargets } from '../helpers/targets.js';
import { gdbsLeftFor } from '../helpers/proc.js';
import type { RunningTarget } from '../helpers/targets.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// heapgap's progress lines also start with `heapgap: `; the error line is the one that is not progress.
const PROGRESS = /^heapgap: (glibc \S+ at .*; attaching to \d+|attached; calling malloc_info|detached; measuring|SIG[A-Z]+ received; finishing safely.*|still waiting for the target to be released.*|(a thread is in uninterruptible sleep|no thread was at a safe point|an arena was being changed by a stopped thread); trying again in \d+ ms)$/;
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('heapgap: ') && !PROGRESS.test(l));

function expectCleanFailure(r: { stderr: string }, what: string): void {
  expect(errorLines(r.stderr), `${what}: one heapgap: error line\n${r.stderr}`).toHaveLength(1);
  expect(r.stderr, `${what}: no stack trace`).not.toMatch(/^\s+at .+/m);
  expect(r.stderr, `${what}: not an internal error`).not.toMatch(/internal error/);
}

interface Churn {
  t: RunningTarget;
  file: string;
}

async function startChurn(dir: string, name: string): Promise<Churn> {
  const file = join(dir, `${name}.progress`);
  const t = await startTarget('churn', ['4', file]);
  for (let i = 0; i < 200 && progress(file) === null; i++) await sleep(10);
  return { t, file };
}

function progress(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** The after-conditions of every run; returns how long the progress counter took to move. */
async function expectHealthy(c: Churn, what: string, tracer = 0): Promise<number> {
  const st = procState(c.t.pid);
  expect(st.alive, `${what}: target alive (${c.t.stderr()})`).toBe(true);
  expect(st.tracerPid, `${what}: TracerPid`).toBe(tracer);
  expect(st.state, `${what}: not stopped`).not.toMatch(/^[Tt]$/);
  expect(procFds(c.t.pid).filter((f) => f.startsWith('/memfd:')), `${what}: no memfd left`).toEqual([]);
  const p0 = progress(c.file);
  const t0 = Date.now();
  while (Date.now() - t0 < 2000) {
    await sleep(20);
    const p = progress(c.file);
    if (p0 !== null && p !== null && p > p0) return Date.now() - t0;
  }
  throw new Error(`${what}: progress counter stuck at ${p0} for 2 s (state ${procState(c.t.pid).state})`);
}

/** Holds a ptrace on one thread (PTRACE_SEIZE: the thread keeps running) until release(). */
async function seize(tid: number): Promise<{ pid: number; release: () => Promise<void> }> {
  const script = [
    'import ctypes, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]',
    'libc.ptrace.restype = ctypes.c_long',
    'if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:',
    '    print("error %d" % ctypes.get_errno(), flush=True); sys.exit(1)',
    'print("seized", flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const p = spawn('python3', ['-c', script, String(tid)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.trim());
    });
    p.on('close', () => resolve(buf.trim() || 'python exited'));
  });
  if (line !== 'seized') throw new Error(`could not PTRACE_SEIZE ${tid}: ${line}`);
  const exited = new Promise<void>((r) => p.on('close', () => r()));
  return {
    pid: p.pid!,
    release: async () => {
      p.stdin.end();
      await exited;
    },
  };
}

let dir = '';
let main: Churn;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heapgap-safety-'));
  main = await startChurn(dir, 'main');
});

afterAll(async () => {
  await stopAllTargets();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('safety', () => {
  // 20 here to keep the suite short on a loaded 2-core machine; scripts/reliability.mjs does 1,000.
  it('12 inspect/trim calls against a churning target leave it healthy every time', { timeout: 240_000 }, async () => {
    const refusals: string[] = [];
    const stopped: number[] = [];
    for (let i = 1; i <= 12; i++) {
      const mode = i % 6 === 0 ? 'trim' : 'inspect';
      const r = await runCli([mode, String(main.t.pid), '--json']);
      const what = `call ${i} (${mode})`;
      expect(r.timedOut, `${what}: finished within 60 s`).toBe(false);
      if (r.exitCode === 3) {
        // The two refusals the protocol allows on a busy target; anything else is a failure.
        expectCleanFailure(r, what);
        expect(errorLines(r.stderr)[0], what).toMatch(/no thread is parked|waited on an allocator lock|half-changed/);
        refusals.push(errorLines(r.stderr)[0]!);
      } else {
        expect(r.exitCode, `${what}: exit (stderr: ${r.stderr})`).toBe(0);
        const doc = JSON.parse(r.stdout) as { schema: string; pause: { stoppedMs: number | null } };
        expect(doc.schema).toBe(mode === 'trim' ? 'heapgap.trim/2' : 'heapgap.inspect/2');
        expect(typeof doc.pause.stoppedMs, `${what}: pause.stoppedMs`).toBe('number');
        stopped.push(doc.pause.stoppedMs!);
      }
      await expectHealthy(main, what);
    }
    expect(refusals.length, `refusals: ${refusals.join(' | ')}`).toBeLessThanOrEqual(3);
    expect(stopped.length).toBeGreaterThanOrEqual(9);
  });

  it('SIGINT while the call runs: heapgap finishes or stops cleanly and the target is fine', async () => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const r = await spawnCli(['inspect', String(main.t.pid), '--json'], (err, child) => {
        if (/attached; calling malloc_info/.test(err) && !child.killed) child.kill(sig);
      });
      expect([0, 130], `${sig}: exit ${r.exitCode} (${r.stderr})`).toContain(r.exitCode);
      if (r.exitCode !== 0) expectCleanFailure(r, sig);
      await expectHealthy(main, `${sig} during the call`);
    }
  });

  /**
   * The CLI run with a preloaded hook that holds it (Atomics.wait, 1.5 s) at one point of its load,
   * after printing `marker`; SIGINT is sent on that line. Expected: a clean interruption before
   * any attach (node sees the signal at its first turn of the event loop after the load: the
   * program may have begun reading the target by then), never node's silent death.
   */
  async function sigintWhileHeld(name: string, hookSource: string, marker: string): Promise<void> {
    const hook = join(dir, `${name}.cjs`);
    await writeFile(hook, hookSource);
    const c = spawn(process.execPath, ['--require', hook, CLI_PATH, 'inspect', String(main.t.pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    c.stderr.setEncoding('utf8');
    c.stderr.on('data', (d: string) => {
      stderr += d;
      if (stderr.includes(marker) && !c.killed) c.kill('SIGINT');
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => c.on('close', (cd, sg) => r([cd, sg])));
    expect(stderr).toContain(marker);
    expect(signal, stderr).toBeNull();
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/^heapgap: SIGINT received; finishing safely/m);
    const lines = errorLines(stderr);
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^heapgap: interrupted (by SIGINT|before attaching; (process ${main.t.pid}|the target) was not touched)$`));
    expect(stderr).not.toMatch(/attached; calling/);
    await expectHealthy(main, `SIGINT while ${name}`);
  }

  it('SIGINT while the CLI is still loading: a clean interruption (exit 130, one line), not a silent death', async () => {
    // held right after its SIGINT handler is installed (the bundle's first module, signals.ts;
    // src/cli/entry.ts): the rest of the bundle, the program and every command are still to load
    await sigintWhileHeld('loading', "const on = process.on; process.on = function (ev, fn) { const r = on.call(this, ev, fn); if (ev === 'SIGINT') { process.stderr.write('test-hook: delaying the load\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); } return r; };\n", 'test-hook: delaying the load');
  });

  it('SIGINT while main.js compiles the bundle, before its handlers exist: kept, then a clean interruption', async () => {
    // held in vm.Script (main.js compiling the bundle, src/cli/code-cache.ts): signals.ts has not
    // run yet. Without main.js's own listeners node would die of it.
    await sigintWhileHeld('compiling', "const vm = require('node:vm'); const Real = vm.Script; vm.Script = function (...a) { process.stderr.write('test-hook: compiling\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); return new Real(...a); };\n", 'test-hook: compiling');
  });

  it('SIGINT between two attempts: the words never say "not touched" of a process an attempt attached', async () => {
    // A shell in a busy loop is never parked in a system call: every attempt attaches, finds no
    // thread to call from, and releases it ("no thread was at a safe point; trying again").
    const busy = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    try {
      const r = await spawnCli(['inspect', String(busy.pid), '--json'], (err, child) => {
        if (/; trying again in \d+ ms/.test(err) && !child.killed) child.kill('SIGINT');
      });
      expect(r.stderr).toMatch(/^heapgap: no thread was at a safe point; trying again in \d+ ms$/m);
      expect(r.exitCode, r.stderr).toBe(130);
      expectCleanFailure(r, 'SIGINT between attempts');
      const line = errorLines(r.stderr)[0]!;
      expect(line).not.toMatch(/was not touched$/);
      // the interruption lands in the wait between attempts (it may land in the next attempt, later)
      if (/before attaching/.test(line)) expect(line).toBe(`heapgap: interrupted before attaching; process ${busy.pid} was not touched this time: an earlier attempt attached it and released it without any call (no thread was at a safe point)`);
      expect(procState(busy.pid!)).toMatchObject({ alive: true, tracerPid: 0 });
    } finally {
      busy.kill('SIGKILL');
    }
  });

  it('SIGINT before gdb attaches: heapgap stops without attaching', async () => {
    // 0-16 ms after "attaching to": heapgap is still preparing gdb's parameters and starting it.
    for (const delay of [0, 4, 8, 12, 16]) {
      let sent = false;
      const r = await spawnCli(['trim', String(main.t.pid), '--json'], (err, child) => {
        if (!sent && /attaching to \d+/.test(err)) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), delay);
        }
      });
      const what = `SIGINT ${delay} ms after "attaching to"`;
      // heapgap printed "SIGINT received; finishing safely" before gdb attached: it must not go on to
      // attach and call malloc_trim.
      expect(r.stderr, `${what}: no attach after the signal`).not.toMatch(/received; finishing safely[\s\S]*attached; calling malloc_info/);
      if (r.exitCode !== 0 || /received; finishing safely/.test(r.stderr)) {
        expect(r.exitCode, `${what}: ${r.stderr}`).toBe(130);
        expectCleanFailure(r, what);
      }
      await expectHealthy(main, what);
    }
  });

  it('SIGINT during a trim: malloc_trim ran (exit 0) or heapgap says it was interrupted — never a dry run', async () => {
    // 10 ms after "attached" lands while malloc_info runs, before the driver decides on malloc_trim.
    for (let i = 0; i < 3; i++) {
      let sent = false;
      const r = await spawnCli(['trim', String(main.t.pid), '--json'], (err, child) => {
        if (!sent && /attached; calling malloc_info/.test(err)) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 10);
        }
      });
      const what = `trim interrupted ${i}`;
      expect([0, 130], `${what}: exit ${r.exitCode} (${r.stderr})`).toContain(r.exitCode);
      if (r.exitCode === 0) {
        const doc = JSON.parse(r.stdout) as { dryRun: boolean; returned: number | null };
        // A trim the user asked for must not turn into a prediction without saying so.
        expect({ dryRun: doc.dryRun, returnedIsNumber: typeof doc.returned === 'number' }, what).toEqual({ dryRun: false, returnedIsNumber: true });
      } else {
        expectCleanFailure(r, what);
      }
      await expectHealthy(main, what);
    }
  });

  it('--timeout running out before gdb attaches is a timeout (exit 3), not an interruption', async () => {
    const r = await runCli(['inspect', String(main.t.pid), '--json', '--timeout', '50ms']);
    expect(r.exitCode, r.stderr).toBe(3);
    expectCleanFailure(r, 'timeout');
    expect(errorLines(r.stderr)[0]).toMatch(/timed out/);
    await expectHealthy(main, 'after a timeout');
  });

  it('a target traced by someone else is refused (exit 3) and left as it was', async () => {
    const tracer = await seize(main.t.pid);
    try {
      const r = await runCli(['inspect', String(main.t.pid), '--json']);
      expect(r.exitCode, r.stderr).toBe(3);
      expectCleanFailure(r, 'traced');
      expect(errorLines(r.stderr)[0]).toMatch(/already traced by pid \d+/);
      await expectHealthy(main, 'while traced by the other tracer', tracer.pid);
    } finally {
      await tracer.release();
    }
    await expectHealthy(main, 'after the other tracer left');
  });

  it('a target with one thread traced by someone else is refused in bounded time', { timeout: 60_000 }, async () => {
    const c = await startChurn(dir, 'thread-traced');
    const tid = readdirSync(`/proc/${c.t.pid}/task`).map(Number).filter((t) => t !== c.t.pid).sort((a, b) => a - b)[0]!;
    const tracer = await seize(tid);
    let r: CliResult | undefined;
    try {
      r = await spawnCli(['inspect', String(c.t.pid), '--json', '--timeout', '5s'], undefined, { boundMs: 15_000 });
    } finally {
      // If heapgap hung, its gdb is still attached (and spinning): end it and resume the target so
      // the next tests can run. Not before an unused gdb has had its time to quit by itself: killed
      // while it still loads (heapgap refuses this target fast), it left its session directory behind.
      const left = (await gdbsLeftFor(c.t.pid)).map((line) => Number(line.split(' ')[0]));
      for (const g of left) process.kill(g, 'SIGKILL');
      await tracer.release();
      if (left.length) {
        await sleep(200);
        process.kill(c.t.pid, 'SIGCONT');
      }
    }
    expect(r!.timedOut, `heapgap ended on its own (killed after ${r!.durationMs} ms; stderr: ${r!.stderr.slice(0, 500)})`).toBe(false);
    expect(r!.exitCode, r!.stderr).toBe(3);
    expectCleanFailure(r!, 'thread traced');
    await expectHealthy(c, 'one thread traced');
    await c.t.stop();
  });

  it('a target that exits while heapgap is attached is reported as gone (exit 3), not as a crash', async () => {
    for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
      const c = await startChurn(dir, `exit-${sig}`);
      let sent = false;
      const r = await spawnCli(['inspect', String(c.t.pid), '--json'], (err) => {
        if (!sent && /attached; calling malloc_info/.test(err)) {
          sent = true;
          process.kill(c.t.pid, sig);
        }
      });
      await c.t.stop();
      expect(r.exitCode, `${sig}: ${r.stderr}`).toBe(3);
      expectCleanFailure(r, sig);
      expect(errorLines(r.stderr)[0], sig).toMatch(new RegExp(`process ${c.t.pid} exited`));
      expect(r.stdout).toBe('');
    }
  });

  it('a target that exits just before gdb attaches is reported as gone, not as something else', async () => {
    for (let i = 0; i < 3; i++) {
      const c = await startChurn(dir, `exit-early-${i}`);
      let sent = false;
      const r = await spawnCli(['inspect', String(c.t.pid), '--json'], (err) => {
        if (!sent && /attaching to \d+/.test(err)) {
          sent = true;
          process.kill(c.t.pid, 'SIGKILL');
        }
      });
      await c.t.stop();
      expect(r.exitCode, r.stderr).toBe(3);
      expectCleanFailure(r, `early exit ${i}`);
      // "no process", "is a zombie", "exited": all true; "kernel thread" or "not allowed" are not.
      expect(errorLines(r.stderr)[0], `early exit ${i}`).toMatch(/exited|zombie|no process/);
    }
  });

  it('a zombie (exited, not reaped) is reported as exited, not as a kernel thread', async () => {
    // The parent forks a child that exits at once and never reaps it.
    const py = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const zombie = Number(await new Promise<string>((resolve) => py.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
    try {
      for (let i = 0; i < 100 && procState(zombie).state !== 'Z'; i++) await sleep(10);
      expect(procState(zombie).state).toBe('Z');
      const r = await runCli(['inspect', String(zombie), '--json']);
      expect(r.exitCode, r.stderr).toBe(3);
      expectCleanFailure(r, 'zombie');
      expect(errorLines(r.stderr)[0]).toMatch(/exited|zombie|no process/);
    } finally {
      py.stdin.end();
      await new Promise((r) => py.on('close', r));
    }
  });

  // vfork-parked: a thread in state D (a vfork parent) until the test ends it by closing the
  // target's stdin, which its vfork child is reading. With `flag`, the vfork happens only once the
  // flag file exists (and the thread gets to run).
  async function startParked(args: string[]) {
    const bin = await buildTarget('vfork-parked');
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
    for (let i = 0; i < 500 && lines.length === 0; i++) await sleep(10);
    const ready = lines[0] as { pid: number; tid: number } | undefined;
    if (!ready) throw new Error('vfork-parked did not get ready');
    const wake = () => child.stdin.end();
    const stop = async () => {
      wake();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
    };
    return { pid: ready.pid, tid: ready.tid, lines, wake, stop };
  }

  /** Whether any thread has SIGSTOP (19) pending, per thread or process-wide. */
  const pendingStop = (pid: number) =>
    readdirSync(`/proc/${pid}/task`).some((t) =>
      [...readFileSync(`/proc/${pid}/task/${t}/status`, 'latin1').matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((m) => ((BigInt(`0x${m[1]}`) >> 18n) & 1n) === 1n),
    );

  it('a thread in uninterruptible sleep (D) is refused before attaching: the process is never stopped', { timeout: 30_000 }, async () => {
    const p = await startParked(['stdin']);
    try {
      const states = new Set<string>();
      let watching = true;
      const watch = (async () => {
        while (watching) {
          states.add(procState(p.pid).state);
          await sleep(2);
        }
      })();
      const r = await runCli(['inspect', String(p.pid)]);
      watching = false;
      await watch;
      expect(r.exitCode, r.stderr).toBe(3);
      expectCleanFailure(r, 'D thread');
      // (the kernel function is named where /proc shows it)
      expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`thread ${p.tid}( in \\S+)? of process ${p.pid} is in uninterruptible sleep \\(state D\\)`));
      expect(r.stderr).toMatch(/nothing was attached/);
      expect([...states].filter((s) => /^[Tt]$/.test(s)), 'the main thread was never stopped').toEqual([]);
      expect(procState(p.pid)).toMatchObject({ alive: true, tracerPid: 0 });
      // gdb was started before the refusal (it loads while heapgap reads the target): it ends by
      // itself, and leaves nothing behind (killed, its ptrace probes would stay stopped for good)
      expect(await gdbsLeftFor(p.pid), 'no gdb (or child of one) left for the target').toEqual([]);
    } finally {
      await p.stop();
    }
  });

  it('last resort: gdb waiting on a D thread is ended outside any call, the process resumed for good', { timeout: 60_000 }, async () => {
    // The check above turned off, as if the thread had gone into D after it.
    const p = await startParked(['stdin']);
    try {
      const r = await runCli(['inspect', String(p.pid)], { env: { HEAPGAP_SKIP_D_CHECK: '1' }, timeout: 30_000 });
      expect(r.timedOut).toBe(false);
      expect(r.exitCode, r.stderr).toBe(3);
      expectCleanFailure(r, 'stuck gdb');
      expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`gdb could not stop every thread of process ${p.pid} \\(thread ${p.tid}( in \\S+)?: uninterruptible sleep\\); after [\\d.]+ s without progress and with no call under way \\(driver's last step: [^)]+\\), heapgap ended gdb and resumed the process; no call had been made; nothing was measured`));
      expect(procState(p.pid)).toMatchObject({ alive: true, tracerPid: 0 });
      expect(procState(p.pid).state).not.toMatch(/^[Tt]$/);
      // attach queued a SIGSTOP for the D thread; left pending it would stop the whole process
      // the moment that thread wakes
      expect(pendingStop(p.pid), 'no SIGSTOP left pending').toBe(false);
      p.wake();
      for (let i = 0; i < 500 && !p.lines.some((l) => l.vforkDone); i++) await sleep(10);
      expect(p.lines.some((l) => l.vforkDone), 'the D thread came back').toBe(true);
      await sleep(300);
      expect(procState(p.pid).state, 'still running after the thread woke').not.toMatch(/^[Tt]$/);
      // and it can be inspected normally now
      const again = await runCli(['inspect', String(p.pid), '--json']);
      expect(again.exitCode, again.stderr).toBe(0);
    } finally {
      await p.stop();
    }
  });

  it('any gdb hang outside a call is bounded: past --timeout and 5 s of silence, gdb is ended and the target resumed', { timeout: 60_000 }, async () => {
    // A stand-in for a gdb that hangs once attached (seen: gdb waiting on its own child that an
    // outside tracer held): it ptrace-attaches the target, says so as heapgap's gdb would, and then
    // never answers. No thread of the target is in D, so only the deadline rule can end it.
    // Like heapgap's driver, it attaches only once heapgap has written its parameters, and quits
    // when told to: attaching as it started, it once beat heapgap's own checks (the target was then
    // "already traced" by it), ignored the request to quit and held the target until the test's end.
    await writeFile(join(dir, 'gdb'), [
      '#!/usr/bin/env python3',
      'import ctypes, json, os, sys, time',
      'args = sys.argv[1:]',
      '# the pid heapgap\'s driver would attach (gdb-argv.ts: python heapgap.heapgap_attach(PID))',
      'pids = [int(a.split("(")[1].rstrip(")")) for a in args if a.startswith("python heapgap.heapgap_attach(")]',
      'pid = pids[-1]',
      'params = os.environ["HEAPGAP_PARAMS"]',
      'while not os.path.exists(params):',
      '    time.sleep(0.005)',
      'if json.load(open(params)).get("quit") or json.load(open(params)).get("pid") != pid: sys.exit(0)',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]',
      'print("heapgap-t attach %.6f" % time.monotonic(), flush=True)',
      'if libc.ptrace(16, pid, None, None) != 0: sys.exit(1)',
      'os.waitpid(pid, 0x40000000)',
      'print("heapgap-t attached %.6f" % time.monotonic(), flush=True)',
      'time.sleep(3600)',
      '',
    ].join('\n'), { mode: 0o755 });
    const c = await startChurn(dir, 'hanging-gdb');
    try {
      // 10 s: on a loaded machine (load 25 on 2 cores, measured) heapgap's start and the checks before
      // attach took over 5 s; what is tested is the grace after the deadline, not the start.
      const r = await runCli(['inspect', String(c.t.pid), '--timeout', '10s'], { env: { PATH: `${dir}:${process.env.PATH}` }, timeout: 60_000 });
      expect(r.timedOut, r.stderr).toBe(false);
      expect(r.exitCode, r.stderr).toBe(3);
      expectCleanFailure(r, 'hanging gdb');
      // a churn thread briefly in D (its progress-file writes, on a busy disk) selects the D wording
      expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`(gdb stopped making progress while attached to process ${c.t.pid} and did not answer the request to stop|gdb could not stop every thread of process ${c.t.pid} \\(thread .*\\)); after [\\d.]+ s without progress and with no call under way .*heapgap ended gdb and resumed the process; no call had been made`));
      expect(r.durationMs, 'bounded: 10 s of --timeout, 5 s of grace, and some slack').toBeLessThan(30_000);
      await expectHealthy(c, 'after the hanging gdb was ended');
    } finally {
      await c.t.stop();
    }
  });

  it('a thread that goes into D during a call: gdb is never ended mid-call; the call completes when it wakes', { timeout: 90_000 }, async (testCtx) => {
    // The worker vforks as soon as the flag exists and it can run: the flag is written the moment
    // gdb has every thread stopped, so the worker runs (and goes into D) during one of heapgap's calls,
    // when gdb lets the threads run. gdb then waits inside that call for the thread to stop. Ending
    // it there would kill the target; heapgap must wait, for longer than its stall limit.
    for (let attempt = 0; ; attempt++) {
      const flag = join(dir, `vfork-flag-${attempt}`);
      const p = await startParked(['flag', flag]);
      try {
        const cli = spawn(process.execPath, [CLI_PATH, 'inspect', String(p.pid), '--json'], { env: { ...process.env, HEAPGAP_SKIP_D_CHECK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        cli.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        cli.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const closed = new Promise<number | null>((r) => cli.on('close', (code) => r(code)));
        // every thread stopped by gdb (attach complete): from here the worker runs only while a
        // call lets the threads run
        const allStopped = () => readdirSync(`/proc/${p.pid}/task`).every((t) => {
          const stat = readFileSync(`/proc/${p.pid}/task/${t}/stat`, 'latin1');
          return stat.charAt(stat.lastIndexOf(')') + 2) === 't';
        });
        for (let i = 0; i < 200_000 && !allStopped() && cli.exitCode === null; i++) await new Promise((r) => setImmediate(r));
        await writeFile(flag, '');
        const woke = setTimeout(p.wake, 4_500);
        const code = await closed;
        clearTimeout(woke);
        const vforking = p.lines.find((l) => l.vforking) as { traced: number } | undefined;
        if (!vforking || vforking.traced !== 1) {
          // the session was over before the worker ran: not the case under test, try again
          // Since the v2 driver's stop got shorter, the worker's vfork lands after detach more often
          // than inside a call; when 6 tries never produce the case, it is reported skipped, not
          // passed (seen at load 10-30 on 2 cores; the case itself is asserted whenever it occurs).
          if (attempt >= 5) {
            testCtx.skip(`the worker never went into D while traced in ${attempt + 1} tries (${JSON.stringify(p.lines)})`);
            return;
          }
          continue;
        }
        expect(code, stderr).toBe(0);
        const report = JSON.parse(stdout) as { pause: { stoppedMs: number; callThreadMs: number } };
        expect(procState(p.pid)).toMatchObject({ alive: true, tracerPid: 0 });
        // attach..detach (callThreadMs): stoppedMs no longer counts the calls, during which the
        // worker sat in D and every other thread ran
        if (report.pause.callThreadMs < 2_500) {
          // the worker saw the tracer, but its vfork came after detach: not the case under test
          expect(attempt, `the worker never went into D inside a call (callThreadMs ${report.pause.callThreadMs})`).toBeLessThan(8);
          continue;
        }
        expect(procState(p.pid).state).not.toMatch(/^[Tt]$/);
        return;
      } finally {
        await p.stop();
      }
    }
  });

  it('the churn target is still healthy at the end', async () => {
    await expectHealthy(main, 'end');
    const text = await readFile(main.file, 'utf8');
    expect(Number(text)).toBeGreaterThan(0);
    // nothing of ours is left attached to it (a gdb that has detached may still be exiting: heapgap
    // does not wait for that)
    expect(await gdbsLeftFor(main.t.pid)).toEqual([]);
  });
});
