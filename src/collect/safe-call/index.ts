/**
 * The safe-call protocol: the only module that runs gdb against a target. Every allocator's calls
 * go through it (its stop.py is run by driver.py with a Ctx).
 *
 * What it guarantees (see README "Safety"):
 * - nothing is loaded or decided inside the stop that could be done before attaching (params.ts):
 *   libc's symbols come from its ELF file, gdb gets the executable and libc before `attach`; gdb
 *   itself is started first and loads while heapgap reads the target (gdb-process.ts);
 * - before attach gdb may be killed, always with its process group (its ptrace probes); an unused
 *   one is told to quit instead;
 * - the target is refused before attaching when it is traced, stopped, a zombie, or has a thread in
 *   uninterruptible sleep (preflight.ts);
 * - calls are made from a thread parked at a syscall in libc with no allocator, stdio, loader, fork
 *   or signal-handler frame on its stack (driver.py), scheduler-locking stays off;
 * - gdb restores FP state through FXSAVE and runs nothing the target supplies (gdb-argv.ts);
 * - output comes back through a memfd read from outside; strings passed are bytes already in libc or
 *   in a mapping of heapgap's own;
 * - a call waiting on a lock is unwound after its budget; a release call is never unwound;
 * - gdb is never killed during a call (token.ts): timeouts and heapgap's own signals ask the driver
 *   to stop;
 * - afterwards the target is checked: same process, untraced, not left stopped, no memfd left
 *   (after-checks.ts).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { HeapgapError } from '../../errors.js';
import { afterChecks } from './after-checks.js';
import { GdbCrash, attachFailure, driverFailure, gdbCrashed, gdbSpawnError } from './failures.js';
import type { GdbPhase } from './failures.js';
import { GdbProcess, discardEarly, takeEarly } from './gdb-process.js';
import type { GdbRun } from './gdb-process.js';
import { driverParams } from './params.js';
import { preflight, refuseUninterruptible } from './preflight.js';
import { driverProgress, readState, releaseStuck, watchForStall } from './token.js';
import type { Before, DriverResult, PauseFigures, SafeCallRequest, SafeCallResult } from './types.js';

export type { SafeCallRequest, SafeCallResult, StopPlan, PauseFigures } from './types.js';
export { preflight, uninterruptibleThreads } from './preflight.js';
export { startEarly, discardEarly } from './gdb-process.js';

/** Why a refusal is tried again, as the progress line and a later refusal say it. */
const RETRY_WHY = { TARGET_BUSY: 'a thread is in uninterruptible sleep', ARENA_BUSY: 'an arena was being changed by a stopped thread', NO_SAFE_THREAD: 'no thread was at a safe point' };

/** Back-offs before trying again when every thread was inside the allocator (each try is one short stop). */
const RETRY_AFTER_MS = [50, 100, 200, 400, 800];

export async function safeCall(req: SafeCallRequest): Promise<SafeCallResult> {
  // gdb loads the target's executable unless it carries DWARF (exe_check.py); not after a crash on it
  let withExe = true;
  const retried: string[] = [];
  // what an earlier attempt did to the target, when it attached (and detached without a call)
  let released: string | null = null;
  for (let attempt = 0; ; attempt++) {
    try {
      // The caller's own checks stand for the first attempt; a retry looks again.
      const before = attempt === 0 && req.before ? req.before : await preflight(req.pid);
      await refuseUninterruptible(req.pid);
      const result = await runGdb(req, before, withExe);
      return retried.length ? { ...result, notes: [...retried, ...result.notes] } : result;
    } catch (error) {
      if (error instanceof GdbCrash && error.beforeAttach && error.withExe && !req.signal?.aborted && Date.now() < req.deadline) {
        // Once: gdb is given less of the target's files (not its executable).
        withExe = false;
        retried.push(`${error.message.replace(/; the target was not touched$/, '')}; heapgap ran it again without loading the executable (frames in the executable are unnamed)`);
        req.onProgress?.('gdb crashed before attaching; trying again without the target\'s executable');
        continue;
      }
      const wait = RETRY_AFTER_MS[attempt];
      const again = error instanceof HeapgapError && Object.hasOwn(RETRY_WHY, error.code);
      if (!again || wait === undefined || Date.now() + wait >= req.deadline || req.signal?.aborted) throw released ? reworded(error, req.pid, released) : error;
      const why = RETRY_WHY[error.code as keyof typeof RETRY_WHY];
      // (a thread in D is found before attaching; the other two once attached, and released)
      if (error.code !== 'TARGET_BUSY') released = `an earlier attempt attached it and released it without any call (${why})`;
      req.onProgress?.(`${why}; trying again in ${wait} ms`);
      await sleep(wait);
    } finally {
      // a refusal before the first session leaves the early gdb unused: it has attached nothing
      await discardEarly();
    }
  }
}

/**
 * A refusal "before attaching ... not touched" from an attempt after one that did attach (and
 * released the process without a call): true of this attempt only, and said so.
 */
function reworded(error: unknown, pid: number, released: string): unknown {
  if (!(error instanceof HeapgapError)) return error;
  const untouched = /; (the target|process \d+) was not touched$/;
  if (!untouched.test(error.message)) return error;
  return new HeapgapError(error.code, error.message.replace(untouched, `; process ${pid} was not touched this time: ${released}`), { ...(error.hint ? { hint: error.hint } : {}), cause: error });
}

/** Runs gdb against the target once, following the protocol above. */
async function runGdb(req: SafeCallRequest, before: Before, withExe: boolean): Promise<SafeCallResult> {
  // A signal that came before gdb exists must stop us here: its listener below would never fire.
  if (req.signal?.aborted || Date.now() >= req.deadline) {
    const timedOut = !req.signal?.aborted || (req.signal.reason instanceof HeapgapError && req.signal.reason.code === 'TIMEOUT');
    throw timedOut
      ? new HeapgapError('TIMEOUT', `timed out before attaching; process ${req.pid} was not touched`, { hint: 'raise --timeout.' })
      : new HeapgapError('INTERRUPTED', `interrupted before attaching; process ${req.pid} was not touched`);
  }
  // gdb started at the beginning of the snapshot (takeSnapshot) has been loading meanwhile
  const gdb = (await takeEarly(req.pid, withExe)) ?? new GdbProcess(req.pid, withExe);
  try {
    return await session(req, before, gdb);
  } finally {
    await gdb.dispose();
  }
}

async function session(req: SafeCallRequest, before: Before, gdb: GdbProcess): Promise<SafeCallResult> {
  const { files, marks } = gdb;
  let attachedOnce = marks.has('attached');
  gdb.onMark = (what) => {
    if (what !== 'attached') return;
    attachedOnce = true;
    req.onProgress?.(`attached; calling ${req.plans.map((p) => p.calls).join(', ')}`);
  };
  const attached = () => marks.has('attach') && !marks.has('detached');
  const askToStop = () => void writeFile(files.abortFile, '').catch(() => undefined);
  // Before attach gdb may be killed; once `attach` has begun only the driver may end the session.
  const stopOrKill = () => (attached() || attachedOnce ? askToStop() : gdb.kill());
  const timer = setTimeout(stopOrKill, Math.max(0, req.deadline - Date.now()));
  const stall = watchForStall({ pid: req.pid, stateFile: files.stateFile, gateFile: files.gateFile, deadline: req.deadline, attached, progressAt: () => gdb.lastMark, kill: () => gdb.kill() });
  req.signal?.addEventListener('abort', stopOrKill, { once: true });
  // null: the driver has detached and written its result, and gdb is ending (os._exit); the result
  // is read meanwhile. gdb's status is awaited where it is needed; heapgap's own exit waits for
  // gdb's (the child stays referenced) unless the session ends well (below).
  let run: GdbRun | null;
  try {
    // An abort between the check on entry and the listener would otherwise be lost.
    if (req.signal?.aborted) stopOrKill();
    else gdb.give(await driverParams(req, before.status, files));
    run = await Promise.race([gdb.done, gdb.written.then(() => null)]);
  } catch (error) {
    gdb.kill(); // the parameters could not be made: nothing was attached
    await gdb.done;
    throw error;
  } finally {
    clearTimeout(timer);
    stall.stop();
    req.signal?.removeEventListener('abort', stopOrKill);
  }
  if (run?.spawnError) throw gdbSpawnError(run.spawnError); // never started
  if (stall.stuckMs !== null) throw await releaseStuck(req.pid, before, stall.stuckMs, stall.state);
  const notes = await afterChecks(req.pid, before);
  const result = readResult(files.resultFile);
  // Detached (the driver says `written` only then), checked, its result read: what is left of gdb is
  // its exit, the kernel freeing its memory (about 20 ms here), which can touch nothing. heapgap's
  // own exit does not wait for a gdb it cannot reap anyway (main.js's sh line started it), unless
  // its output is to be shown (HEAPGAP_DEBUG). One node spawned is waited for and reaped: left to
  // outlive heapgap, it would be reaped by PID 1, which in an application's container may never.
  if (run === null && result?.ok && gdb.adopted && !process.env.HEAPGAP_DEBUG) gdb.hold(false);
  // gdb's output once gdb has ended, without holding the run up for it: gdb exits while heapgap
  // measures, with HEAPGAP_DEBUG as without (scripts/bench-startup.mjs times runs with it)
  if (process.env.HEAPGAP_DEBUG) void (run ? Promise.resolve(run) : gdb.done).then((ended) => debugDump(ended, result));
  if (!result) {
    // gdb's status and output are then what can be said
    const ended = run ?? (await gdb.done);
    const crash = gdbCrashed({ signal: ended.signal ?? undefined, stderr: ended.stderr });
    if (crash) throw new GdbCrash(req.pid, crash, crashPhase(marks), notes, marks.has('exe-file'));
    // No result file. If the driver had started, say what it had done, not "not touched"; unless
    // heapgap ended gdb itself before `attach` (a signal, --timeout: during the walk before attach)
    const endedBeforeAttach = req.signal?.aborted === true && !marks.has('attach');
    const state = endedBeforeAttach ? null : readState(files.stateFile);
    if (state) {
      const { step, done } = driverProgress(state);
      throw new HeapgapError('GDB_FAILED', `gdb ended without a result (exit ${ended.exitCode ?? ended.signal ?? '?'}; driver's last step: ${step}; ${done}); process ${req.pid} was checked afterwards`, {
        hint: `${notes.length ? `${notes.join('; ')}. ` : ''}run with HEAPGAP_DEBUG=1 to see gdb's output.`,
      });
    }
    // --timeout aborts the signal too: that is a timeout (exit 3), not an interruption (130)
    const timedOut = req.signal?.reason instanceof HeapgapError && req.signal.reason.code === 'TIMEOUT';
    throw attachFailure(req.pid, ended.stderr, ended.exitCode ?? undefined, req.signal?.aborted === true && !timedOut, timedOut || Date.now() >= req.deadline);
  }
  if (result.error || !result.ok) {
    const why = !req.signal?.aborted ? false : req.signal.reason instanceof HeapgapError && req.signal.reason.code === 'TIMEOUT' ? 'timeout' : 'signal';
    throw driverFailure(req.pid, result, Date.now() >= req.deadline && !why ? 'timeout' : why);
  }
  return {
    allocators: result.allocators,
    released: result.released,
    statusBefore: result.statusBefore,
    statusAfter: result.statusAfter,
    thread: result.thread ?? req.pid,
    pause: pauseFigures(marks, result),
    notes,
  };
}

/** Where gdb was when it crashed, by the last mark it printed (gdb-argv.ts gives their order). */
function crashPhase(marks: Map<string, number>): GdbPhase {
  if (marks.has('attach')) return 'attached';
  if (marks.has('libc')) return 'driver';
  if (marks.has('driver')) return 'libc';
  if (marks.has('exe')) return 'driver';
  // gdb had started (its first mark) and not finished the throwaway attach
  return marks.has('gdb') && !marks.has('decoy') ? 'decoy' : 'exe';
}

/**
 * From gdb's own events and marks: the process is stopped from the moment gdb attached its first
 * thread (new_thread event; the `attach` mark when there is none) until `detach` returned, except
 * while a call runs (InferiorCallPre..Post: every thread runs then). That makes one stretch before
 * the first call, one between each two calls and one after the last: stoppedMs is the longest (what
 * the program's threads feel as a stall), stoppedTotalMs all of them. The calling thread is taken
 * from the program for the whole session.
 */
export function pauseFigures(marks: Map<string, number>, result: Pick<DriverResult, 'resumed' | 'callMs'> & { stoppedFrom?: number | null }): PauseFigures {
  const mark = marks.get('attach');
  const first = typeof result.stoppedFrom === 'number' ? result.stoppedFrom * 1000 : undefined;
  const t0 = first !== undefined && mark !== undefined && first >= mark ? first : mark;
  const t1 = marks.get('attached');
  const t2 = marks.get('detached');
  if (t0 === undefined || t2 === undefined) return { stoppedMs: null, stoppedTotalMs: null, stops: null, callThreadMs: null, attachMs: null, callMs: round(result.callMs), mode: 'all-stop' };
  const stretches: number[] = [];
  let from = t0;
  for (const [a, b] of result.resumed.map(([x, y]) => [x * 1000, y * 1000] as const).filter(([x, y]) => x >= t0 && y <= t2).sort((p, q) => p[0] - q[0])) {
    stretches.push(Math.max(0, a - from));
    from = Math.max(from, b);
  }
  stretches.push(Math.max(0, t2 - from));
  return {
    stoppedMs: round(Math.max(...stretches)),
    stoppedTotalMs: round(stretches.reduce((x, y) => x + y, 0)),
    stops: stretches.length,
    callThreadMs: round(t2 - t0),
    attachMs: t1 !== undefined ? round(t1 - t0) : null,
    callMs: round(result.callMs),
    mode: 'all-stop',
  };
}

function readResult(file: string): DriverResult | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DriverResult;
  } catch {
    return null;
  }
}

function debugDump(run: GdbRun, result: DriverResult | null): void {
  process.stderr.write(`--- gdb stdout\n${String(run.stdout)}\n--- gdb stderr\n${String(run.stderr)}\n--- driver steps (ms since attach, gdb's CPU ms)\n`);
  for (const [ms, what, cpu] of result?.steps ?? []) process.stderr.write(`${ms.toFixed(1).padStart(8)} ${cpu === undefined ? '' : cpu.toFixed(1).padStart(8)}  ${what}\n`);
  if (!result) return;
  process.stderr.write(`rejected threads: ${JSON.stringify(result.rejected)}\ncalling thread: ${result.thread ?? '-'}\n`);
  // gdb's monotonic clock (CLOCK_MONOTONIC): lay these next to a target's own timestamps
  process.stderr.write(`first thread attached (monotonic s): ${result.stoppedFrom?.toFixed(6) ?? '-'}\n`);
  process.stderr.write(`threads ran during calls (monotonic s): ${result.resumed.map(([a, b]) => `${a.toFixed(6)}-${b.toFixed(6)}`).join(' ')}\n`);
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
