import { HeapgapError } from '../../errors.js';
import { procError } from '../procfs.js';
import type { DriverResult } from './types.js';

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
  if (interrupted) return new HeapgapError(interrupted === 'timeout' ? 'TIMEOUT' : 'INTERRUPTED', `${interrupted === 'timeout' ? 'timed out' : 'interrupted'}; detached from ${pid} cleanly (${message})`);
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

