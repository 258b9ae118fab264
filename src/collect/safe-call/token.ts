/**
 * The call token and the last resort for a stuck gdb. The token is a file that the driver renames to
 * itself before every call and back after it, so exactly one side holds it: heapgap ends gdb only
 * after taking it, when no call is under way and none can start.
 */
import { readFileSync, renameSync } from 'node:fs';
import { HeapgapError } from '../../errors.js';
import { hasSignal, parseStatus } from '../../parse/status.js';
import { listTasks, readProc } from '../procfs.js';
import { afterChecks } from './after-checks.js';
import { uninterruptibleThreads } from './preflight.js';
import type { Before } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the driver had done, from its last mark "<what> <seq> <calls> <malloc_trim's return or ->"
 * (see mark() in driver.py): for messages about a gdb that ended without a result.
 */
export function driverProgress(state: string): { step: string; done: string } {
  const [what, , callsText, trimText] = state.split(' ');
  const calls = Number(callsText ?? 0) || 0;
  const done = trimText !== undefined && trimText !== '-'
    ? `malloc_trim had run (returned ${trimText}) but its effect was not measured`
    : calls > 0 ? `${calls} call${calls === 1 ? '' : 's'} had completed; nothing was measured` : 'no call had been made; nothing was measured';
  return { step: what || 'none, still attaching', done };
}

/** The driver's last mark, e.g. "call 12 3 -" (see mark() in driver.py), or '' before its first. */
export function readState(file: string): string {
  try {
    return readFileSync(file, 'latin1').replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
}

/**
 * After gdb was ended outside a call: resume what attach left stopping, check the process, and say
 * what had been done. `state` is the driver's last mark: "<what> <seq> <calls> <trim return or ->".
 */
export async function releaseStuck(pid: number, before: Before, stuckMs: number, state: string): Promise<HeapgapError> {
  // A thread gdb had not seen stop still has attach's SIGSTOP pending: when it wakes, it would
  // stop the whole process. SIGCONT discards pending stop signals (and resumes a group-stop); it is
  // sent only when one of them is there, so a target's SIGCONT handler is not run for nothing.
  for (let i = 0; i < 10; i++) {
    if (await stopPendingOrStopped(pid)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        break; // gone: afterChecks says so
      }
    }
    await sleep(20);
  }
  const notes = await afterChecks(pid, before);
  const { step, done } = driverProgress(state);
  const stuck = await uninterruptibleThreads(pid);
  const which = stuck.map((t) => `${t.tid}${t.wchan ? ` in ${t.wchan}` : ''}`).join(', ');
  const retry = which ? `try again when no thread is in state D (grep State /proc/${pid}/task/*/status).` : 'run with HEAPGAP_DEBUG=1 to see gdb\'s output.';
  return new HeapgapError('ATTACH_STALLED', `${which ? `gdb could not stop every thread of process ${pid} (thread ${which}: uninterruptible sleep)` : `gdb stopped making progress while attached to process ${pid} and did not answer the request to stop`}; after ${(stuckMs / 1000).toFixed(1)} s without progress and with no call under way (driver's last step: ${step}), heapgap ended gdb and resumed the process; ${done}`, {
    hint: `${notes.length ? `${notes.join('; ')}. ` : ''}${retry}`,
  });
}

/** Any thread of pid stopped (T/t), or with SIGSTOP pending for it or for the process. */
async function stopPendingOrStopped(pid: number): Promise<boolean> {
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const t = await readProc(pid, `task/${tid}/status`).then((text) => parseStatus(text), () => null);
    if (t === null) continue;
    if (t.state === 'T' || t.state === 't' || hasSignal(t.sigPnd, SIGSTOP) || hasSignal(t.shdPnd, SIGSTOP)) return true;
  }
  return false;
}

const SIGSTOP = 19;


/**
 * Attached, no call under way, a thread of the target in state D, and no word from the driver for
 * this long: gdb is stuck waiting for that thread to stop.
 */
const STALL_MS = 2000;
/** Past the run's deadline (when the driver was asked to stop), silence this long ends gdb too. */
const DEADLINE_GRACE_MS = 5000;

export interface StallWatch {
  /** Set once heapgap took the token and ended gdb: how long the driver had been silent. */
  stuckMs: number | null;
  /** The driver's last mark at that moment. */
  state: string;
  stop(): void;
}

/**
 * The last resort. gdb waits for every thread it attached to report its stop; a thread in state D
 * (gone into uninterruptible sleep after the check before attaching) never does, and meanwhile
 * every other thread stays stopped. When the driver has said nothing for STALL_MS and a thread is
 * in D (or, for any other hang, the run's time is over and gdb has ignored the request to stop for
 * DEADLINE_GRACE_MS), heapgap takes the call token (a rename: the driver takes it before every
 * call, so this fails while a call is under way, and once it succeeds no call can start) and ends
 * gdb. The kernel then detaches every thread, and releaseStuck resumes what attach left stopping.
 * gdb is never ended during a call: the target would return into gdb's dummy frame and die.
 */
export function watchForStall(o: { pid: number; stateFile: string; gateFile: string; deadline: number; attached: () => boolean; progressAt: () => number; kill: () => void }): StallWatch {
  const watch: StallWatch = { stuckMs: null, state: '', stop: () => clearInterval(timer) };
  let lastState = '';
  let lastProgress = Date.now();
  let checking = false;
  let lastCheck = 0;
  const timer = setInterval(() => {
    if (checking || watch.stuckMs !== null || !o.attached()) return;
    const state = readState(o.stateFile);
    if (state !== lastState) {
      lastState = state;
      lastProgress = Date.now();
    }
    const silentSince = Math.max(lastProgress, o.progressAt());
    if (Date.now() - silentSince < STALL_MS || /^(finish|call) /.test(state)) return;
    // Without a thread in D: only once the run's time is over and gdb has ignored the request to
    // stop for DEADLINE_GRACE_MS (a slow attach of thousands of threads is not stuck).
    const overdue = Date.now() >= o.deadline + DEADLINE_GRACE_MS && Date.now() - silentSince >= DEADLINE_GRACE_MS;
    // /proc/PID/task/*/stat of thousands of threads is not read twenty times a second
    if (Date.now() - lastCheck < 250) return;
    lastCheck = Date.now();
    checking = true;
    void uninterruptibleThreads(o.pid)
      .then((d) => {
        if ((d.length === 0 && !overdue) || watch.stuckMs !== null || readState(o.stateFile) !== lastState) return;
        try {
          renameSync(o.gateFile, `${o.gateFile}.heapgap`);
        } catch {
          return; // the driver holds the token: a call is under way
        }
        watch.stuckMs = Date.now() - silentSince;
        watch.state = lastState;
        o.kill();
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  }, 50);
  return watch;
}
