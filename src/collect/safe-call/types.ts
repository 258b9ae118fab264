import type { LibcImage } from '../elf.js';

/** One allocator's part of the stop: its stop.py, the parameters it gets, where a caller must not be. */
export interface StopPlan {
  name: string;
  /** What its collect() calls, for progress lines (e.g. "malloc_info"). */
  calls: string;
  /** Absolute path of the allocator's stop.py (a file of heapgap's). */
  script: string;
  /** JSON handed to the script's collect()/release(); `addr` holds its resolved functions. */
  params: Record<string, unknown> & { addr?: Record<string, string> };
  /** Code ranges of this allocator: a thread stopped inside one may hold its locks. */
  forbiddenRanges: [bigint, bigint][];
}

export interface SafeCallRequest {
  pid: number;
  mode: 'inspect' | 'trim';
  /** The target's glibc: the protocol's own helpers (memfd_create, fdopen, mmap, …) are called there. */
  libc: { path: string; base: bigint; image: LibcImage };
  /** Every allocator's part, in the order they run. */
  plans: StopPlan[];
  /** trim: the allocator whose release call is made (its plan's name). */
  release: string | null;
  /** trim: what the release call keeps (malloc_trim's pad); handed to release() as params.pad. */
  pad: number;
  /** How long a call may wait on a lock before it is unwound. */
  callBudgetMs: number;
  /** When the whole run must end; the driver is asked to stop at this time. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (msg: string) => void;
  /** preflight()'s result when the caller has just run it (saves reading /proc again). */
  before?: Before;
}

/** How long the target was taken from its work, from gdb's own events. */
export interface PauseFigures {
  /** The whole process stopped: first thread attached to detach, less the time every thread ran during calls. */
  stoppedMs: number | null;
  /** The calling thread, stopped or running heapgap's calls: first thread attached to detach. */
  callThreadMs: number | null;
  attachMs: number | null;
  /** Sum of the calls' durations (every thread runs during a call: scheduler-locking is off). */
  callMs: number | null;
  mode: 'all-stop' | 'non-stop';
}

export interface SafeCallResult {
  /** What each allocator's collect() returned, by name. */
  allocators: Record<string, unknown>;
  /** trim: what the release call returned (e.g. { returned: 1 }). */
  released: Record<string, unknown> | null;
  /** trim: /proc/PID/status right before and right after the release call, in the stop (its Rss
   * counters cost nothing to read; smaps_rollup walks every page table). */
  statusBefore: string | null;
  statusAfter: string | null;
  thread: number;
  pause: PauseFigures;
  notes: string[];
}

/** The driver's result file (driver.py RESULT). */
export interface DriverResult {
  ok: boolean;
  error: { kind: string; message: string } | null;
  thread: number | null;
  rejected: Record<string, string>;
  allocators: Record<string, unknown>;
  released: Record<string, unknown> | null;
  statusBefore: string | null;
  statusAfter: string | null;
  trimReturned: number | null;
  callMs: number;
  interrupted: boolean;
  cleanup: string[];
  /** [ms since attach, what, gdb's CPU ms so far] */
  steps: [number, string, number?][];
  /** [resumed, stopped] gdb monotonic seconds of every resume (inferior calls). */
  resumed: [number, number][];
  /** gdb monotonic seconds when the first thread was attached (the stop's start), if gdb said. */
  stoppedFrom?: number | null;
}

/** The target as it was before attaching: what the after-checks compare against. */
export interface Before {
  status: import('../../types.js').ProcStatus;
  startTime: string;
}
