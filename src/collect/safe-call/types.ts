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
  /**
   * The longest stretch with the whole process stopped (what its threads feel as one stall): the
   * session (first thread attached to detach) is cut by the calls, during which every thread runs.
   */
  stoppedMs: number | null;
  /** Every such stretch added up (the session less the calls). */
  stoppedTotalMs: number | null;
  /** How many stretches: one more than the calls. */
  stops: number | null;
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
  /** Each allocator's check of its own structures before any call (driver.py precheck). */
  checks?: Record<string, unknown>;
  /** Why no call was made although the session went through (e.g. "heap-corrupt"). */
  noCalls?: string | null;
  /** A call stopped by a signal inside the target: which, where, and the locks it left. */
  failure?: CallFailure | null;
}

/** driver.py failed(): a call gdb unwound after a signal, and what each allocator found after it. */
export interface CallFailure {
  call: string;
  signal: string;
  /** Frame names (or pcs) at the signal, innermost first. */
  frames: string[];
  /**
   * heapgap's own signal: "computing" to a call still running after heapgap was asked to stop,
   * "limit" to one past its time limit, "waiting" to one blocked on a lock; null: the target's.
   */
  interrupted: 'computing' | 'limit' | 'waiting' | null;
  allocators: Record<string, LockAudit>;
}

/** An allocator's after_failure(): the locks held after the unwind, released or left, and why. */
export interface LockAudit {
  held?: { arena: number; address: string; value: number }[];
  released?: { arena: number; address: string; value: number; why: string; woke: number | null }[];
  leftHeld?: ({ arena: number; address: string; value: number; why: string } | string)[];
  threadsInAllocator?: { tid: number; where: string; futexWait: number | null }[];
  error?: string;
}

/** The target as it was before attaching: what the after-checks compare against. */
export interface Before {
  status: import('../../types.js').ProcStatus;
  startTime: string;
}
