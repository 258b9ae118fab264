import { HeapgapError } from '../../errors.js';
import { procError } from '../procfs.js';
import type { CallFailure, DriverResult } from './types.js';

/** gdb ended without a result and without attaching: why, in the user's words. */
export function attachFailure(pid: number, stderr: string, exitCode: number | undefined, interrupted: boolean, late: boolean): HeapgapError {
  if (/ptrace: Operation not permitted|Could not attach to process/i.test(stderr)) {
    return new HeapgapError('PTRACE_DENIED', `not allowed to attach to process ${pid}`, {
      hint: 'run as the same user with kernel.yama.ptrace_scope=0, or as root / with CAP_SYS_PTRACE (containers: --cap-add=SYS_PTRACE).',
    });
  }
  if (/unrecognized option|unknown option/i.test(stderr)) {
    return new HeapgapError('GDB_FAILED', `this gdb is too old for heapgap: ${stderr.trim().split('\n')[0]}`, { hint: 'heapgap needs gdb 8.3 or newer, built with Python (Debian/Ubuntu: apt-get install gdb).' });
  }
  if (/No such process/i.test(stderr)) return procError(pid, 'status', Object.assign(new Error('gone'), { code: 'ENOENT' }));
  if (interrupted) return new HeapgapError('INTERRUPTED', 'interrupted before attaching; the target was not touched');
  if (late) return new HeapgapError('TIMEOUT', 'timed out before attaching; the target was not touched', { hint: 'raise --timeout.' });
  const last = stderr.trim().split('\n').filter((l) => !/^warning:/.test(l)).pop() ?? '';
  return new HeapgapError('GDB_FAILED', `gdb failed (exit ${exitCode ?? '?'})${last ? `: ${last}` : ''}`, { hint: 'run with HEAPGAP_DEBUG=1 to see gdb\'s output.' });
}

/** The driver refused or a call failed: the error the user sees. */
export function driverFailure(pid: number, result: DriverResult, interrupted: false | 'timeout' | 'signal'): HeapgapError {
  const message = result.error?.message ?? 'the allocator call produced no output';
  const kind = result.error?.kind;
  if (kind === 'call-failed' && result.failure) return callFailure(pid, result.failure, interrupted);
  // A refusal that came after heapgap was asked to stop is that stop (the user's Ctrl-C, the timeout).
  if (interrupted && kind === 'busy') return new HeapgapError(interrupted === 'timeout' ? 'TIMEOUT' : 'INTERRUPTED', `${interrupted === 'timeout' ? 'timed out' : 'interrupted'}; detached from ${pid} cleanly (${message}; no call was made)`);
  if (kind === 'heap-corrupt') {
    return new HeapgapError('HEAP_CORRUPT', `process ${pid}: ${message}`, {
      hint: `${CORRUPT_HINT} \`heapgap inspect ${pid}\` reports every corrupt list and what can still be measured.`,
    });
  }
  if (kind === 'busy') return new HeapgapError('ARENA_BUSY', `${message}; no call was made`, { hint: 'a thread was stopped in the middle of changing that arena every time heapgap looked; try again, or the arena may be corrupt while a thread holds its lock.' });
  if (interrupted) return new HeapgapError(interrupted === 'timeout' ? 'TIMEOUT' : 'INTERRUPTED', `${interrupted === 'timeout' ? 'timed out' : 'interrupted'}; detached from ${pid} cleanly (${message})`);
  // after the interruptions above: a refusal that met a Ctrl-C or the timeout is that stop
  if (kind === 'unchecked') {
    return new HeapgapError('HEAP_UNCHECKED', `process ${pid}: ${message}`, {
      hint: /raise --timeout/.test(message) ? 'the walk runs while the process runs, slower on a busy machine; inspect meanwhile reports what it can.' : 'inspect meanwhile reports what it can.',
    });
  }
  if (result.interrupted) return new HeapgapError('CALL_TIMEOUT', message, { hint: 'the allocator was busy; try again, or raise --call-budget.' });
  if (/no thread is parked/.test(message)) {
    const reasons = Object.entries(result.rejected).slice(0, 4).map(([t, r]) => `${t}: ${r}`).join('; ');
    return new HeapgapError('NO_SAFE_THREAD', `${message} [${reasons}]`, { hint: 'every thread was busy inside the allocator or in user code; try again in a moment.' });
  }
  return new HeapgapError('GDB_FAILED', `the call into ${pid} failed: ${message}`, { hint: 'the target was detached and checked.' });
}

export function gdbSpawnError(cause: unknown): HeapgapError {
  return new HeapgapError('GDB_MISSING', 'gdb is not installed (or not on PATH)', { cause, hint: 'install it: apt-get install gdb (Debian/Ubuntu), dnf install gdb (Fedora/RHEL).' });
}


export const CORRUPT_HINT = 'a use-after-free or double free in the program wrote into freed memory; the program runs on until it uses that list. Run it under AddressSanitizer or valgrind (or with GLIBC_TUNABLES=glibc.malloc.check=3) to find the write.';

/**
 * A call gdb unwound after a signal inside the target, in words: what stopped it, and the truth about
 * the locks it left (released, with the evidence, or still held, and what that means).
 */
export function callFailure(pid: number, f: CallFailure, interrupted: false | 'timeout' | 'signal'): HeapgapError {
  const where = f.frames.find((x) => !/^0x/.test(x)) ?? f.frames[0];
  const at = where ? ` in ${where}` : '';
  const what = f.interrupted === 'computing'
    ? `${f.call} did not return after heapgap was asked to stop (a heap too large for the time left on a busy machine, or a free list that never ends); heapgap interrupted it with ${f.signal}${at}`
    : f.interrupted === 'limit'
      ? `${f.call} ran past its time limit without returning (a free list that never ends?); heapgap interrupted it with ${f.signal}${at}`
      : `${f.call} was stopped by ${f.signal} inside the allocator${where ? ` (in ${where})` : ''}`;
  const locks: string[] = [];
  for (const audit of Object.values(f.allocators)) {
    if (audit.error) locks.push(`heapgap could not check the allocator's locks afterwards (${audit.error}); the process may have an arena locked for good`);
    for (const r of audit.released ?? []) locks.push(`it had left arena ${r.arena}'s lock (${r.address}) held; heapgap released it, as glibc's unlock does, because ${r.why}`);
    for (const l of audit.leftHeld ?? []) {
      if (typeof l === 'string') continue;
      locks.push(`arena ${l.arena}'s lock (${l.address}) is held and heapgap left it so: ${l.why}; threads of process ${pid} that allocate from arena ${l.arena} wait until it is released`);
    }
    if ((audit.held ?? []).length === 0 && !audit.error) locks.push('no arena lock was left held');
  }
  const message = `${what}; gdb restored the calling thread; ${locks.join('; ') || 'the arena locks were not checked'}`;
  const code = interrupted === 'timeout' ? 'TIMEOUT' : interrupted === 'signal' ? 'INTERRUPTED' : 'CALL_FAILED';
  return new HeapgapError(code, message, {
    hint: f.interrupted === 'computing' && interrupted === 'timeout'
      ? `it walks every free chunk: on a large heap and a busy machine a longer --timeout lets it finish; if it never does, the heap is probably corrupt: \`heapgap inspect ${pid}\` checks its free lists without calling into it.`
      : f.signal === 'SIGWINCH' || f.signal === 'SIGURG'
      ? `the heap is probably corrupt: \`heapgap inspect ${pid}\` checks its free lists without calling into it.`
      : `the heap is probably corrupt (if glibc aborted, it printed why on the process's stderr); \`heapgap inspect ${pid}\` checks the free lists without calling into it.`,
  });
}

/** Signals of gdb's own death (heapgap only ever sends it SIGKILL). */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP']);

/** gdb died of a fault of its own (or said so: "Fatal signal", an internal error) rather than exiting. */
export function gdbCrashed(run: { signal?: string | undefined; stderr?: unknown }): string | null {
  if (run.signal && CRASH_SIGNALS.has(run.signal)) return run.signal;
  const m = /Fatal signal: ([A-Za-z ]+)|(internal-error)/.exec(String(run.stderr ?? ''));
  return m ? (m[1]?.trim() ?? 'internal error') : null;
}

/** Where gdb was when it crashed (index.ts crashPhase, from the marks gdb-argv.ts prints). */
export type GdbPhase = 'decoy' | 'exe' | 'libc' | 'driver' | 'attached';

/** gdb crashed; `phase` from the marks it printed: before attach, the target was not touched. */
export class GdbCrash extends HeapgapError {
  readonly beforeAttach: boolean;
  /** withExe: gdb had begun loading the target's executable (exe_check.py's `exe-file` mark). */
  constructor(pid: number, signal: string, phase: GdbPhase, notes: string[], readonly withExe = true) {
    const what = { decoy: 'during its first attach (to a throwaway process of its own)', exe: withExe ? "while loading the target's executable" : "while starting (the target's executable was not loaded)", libc: "while loading the target's libc", driver: 'before attaching', attached: `while attached to process ${pid}` }[phase];
    const touched = phase === 'attached' ? `; process ${pid} was checked afterwards${notes.length ? ` (${notes.join('; ')})` : ''}` : '; the target was not touched';
    super('GDB_FAILED', `gdb crashed (${signal}) ${what}${touched}`, { hint: 'a gdb bug met something in the target\'s files; run with HEAPGAP_DEBUG=1 to see gdb\'s output, and try a newer gdb.' });
    this.beforeAttach = phase !== 'attached';
  }
}
