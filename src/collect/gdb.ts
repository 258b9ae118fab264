/**
 * The safe-call protocol: the only module that runs gdb against a target.
 *
 * What it guarantees (see README "Safety"):
 * - nothing is loaded or decided inside the stop that could be done before attaching: libc's symbols
 *   come from its ELF file (./elf.ts), and gdb gets the executable and libc before `attach`;
 * - calls are made from a thread parked at a syscall in libc with no allocator, stdio, loader, fork or
 *   signal-handler frame on its stack (driver.py), scheduler-locking stays off;
 * - gdb restores FP state through FXSAVE (amd64-linux-sse.xml): gdb < 14 cannot write the xstate regset
 *   on kernels with AMX, and a failed restore leaves orig_rax = -1 so the target's interrupted syscalls
 *   return -ERESTARTSYS (seen here: glibc aborts "The futex facility returned an unexpected error code");
 * - output comes back through a memfd read from outside; strings passed are bytes already in libc;
 * - a call waiting on a lock is unwound after its budget; malloc_trim is never unwound;
 * - gdb is never killed while attached: timeouts and heapgap's own signals ask the driver to stop;
 * - afterwards the target is checked: same process, untraced, not left stopped, no memfd left.
 */
import { readFileSync, renameSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { HeapgapError } from '../errors.js';
import { hasSignal, parseStatus } from '../parse/status.js';
import { listTasks, leftoverMemfds, procError, readProc, readProcChunks, readStartTime } from './procfs.js';
import type { LibcImage } from './elf.js';
import type { ProcStatus } from '../types.js';

const ASSETS = fileURLToPath(new URL('../../src/collect/gdb/', import.meta.url));
const MEMFD_NAME = 'malloc_info';
const FORBIDDEN_FRAMES =
  'malloc|free|calloc|realloc|memalign|valloc|_int_|arena|tcache|sysmalloc|systrim|mtrim|fork|_dl_|dlopen|dlclose|dlsym|_IO_|fopen|fclose|fdopen|printf|exit|abort|backtrace|pthread_atfork';
const FORBIDDEN_SYMBOLS = /^(__libc_)?(malloc|free|calloc|realloc|reallocarray|memalign|valloc|pvalloc|posix_memalign|aligned_alloc|malloc_trim|malloc_info|malloc_stats|mallinfo2?|malloc_usable_size|fork|_Fork|vfork|exit|_exit|abort|dlopen|dlclose|dlsym|fclose|fopen|fdopen|fflush|cfree)$/;
const STOP_MARK = 'heapgap-t ';

export interface LibcMapping {
  /** A path to the target's libc that this process can open (see locateLibc). */
  path: string;
  /** Load bias (start of the mapping at file offset 0). */
  base: bigint;
}

export interface SafeCallRequest {
  pid: number;
  mode: 'inspect' | 'trim';
  pad: number;
  libc: LibcMapping;
  image: LibcImage;
  /** Starts of anonymous VMAs that may be thread-arena heaps (HEAP_MAX-aligned). */
  heapCandidates: bigint[];
  /** malloc_state offsets for this glibc, or null when unknown (the join is then inferred). */
  layout: { heapMax: number; heapInfoSize: number; top: number; next: number; systemMem: number } | null;
  /** How long a call may wait on a lock before it is unwound. */
  callBudgetMs: number;
  /** When the whole run must end; the driver is asked to stop at this time. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (msg: string) => void;
}

export interface SafeCallResult {
  mallocInfo: string;
  layout: { arenas: LayoutArena[]; note: string | null };
  smapsBefore: string | null;
  smapsAfter: string | null;
  trimReturned: number | null;
  thread: number;
  stoppedMs: number | null;
  attachMs: number | null;
  callMs: number;
  notes: string[];
}

export interface LayoutArena {
  index: number;
  address: string;
  systemMem: number;
  top: string;
  heaps: { start: string; size: number; mprotectSize: number }[];
  note?: string;
}

interface DriverResult {
  ok: boolean;
  error: { kind: string; message: string } | null;
  thread: number | null;
  rejected: Record<string, string>;
  mallocInfo: string | null;
  layout: SafeCallResult['layout'] | null;
  smapsBefore: string | null;
  smapsAfter: string | null;
  trimReturned: number | null;
  callMs: number;
  interrupted: boolean;
  cleanup: string[];
  steps: [number, string][];
}

/** Checks made before attaching; the returned status is the "before" picture for the after-checks. */
export async function preflight(pid: number): Promise<{ status: ProcStatus; startTime: string }> {
  const status = parseStatus(await readProc(pid, 'status'));
  const startTime = await readStartTime(pid);
  if (status.tgid !== pid) {
    throw new HeapgapError('BAD_INPUT', `${pid} is a thread of process ${status.tgid}, not a process`, { hint: `run heapgap on ${status.tgid}.` });
  }
  if (status.state === 'Z' || status.state === 'X') throw new HeapgapError('PROCESS_GONE', `process ${pid} is a zombie`, { hint: 'it has exited; its parent has not reaped it yet.' });
  if (status.tracerPid !== 0) {
    throw new HeapgapError('ALREADY_TRACED', `process ${pid} is already traced by pid ${status.tracerPid}`, { hint: 'detach the other debugger or tracer (strace, gdb, a profiler) first.' });
  }
  // ptrace is per thread: one traced thread is enough to make gdb's attach spin.
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const tracer = Number(/^TracerPid:\s*(\d+)/m.exec(await readProc(pid, `task/${tid}/status`).catch(() => ''))?.[1] ?? 0);
    if (tracer !== 0) {
      throw new HeapgapError('ALREADY_TRACED', `thread ${tid} of process ${pid} is already traced by pid ${tracer}`, { hint: 'detach the other debugger or tracer (strace -p, gdb, a profiler) first.' });
    }
  }
  if (status.state === 'T' || status.state === 't') {
    throw new HeapgapError('TARGET_STOPPED', `process ${pid} is stopped (state ${status.state})`, { hint: `resume it first (kill -CONT ${pid}); calling into a stopped process could leave it stopped.` });
  }
  await memoryAccess(pid, status);
  // The first bytes are enough to tell: a 60,000-VMA maps is 3 MB.
  if (readProcChunks(pid, 'maps', 4096).every((c) => c.toString('latin1').trim() === '')) {
    // Empty maps: a kernel thread (PF_KTHREAD in stat's flags), or a process that is exiting.
    const stat = await readProc(pid, 'stat').catch(() => '');
    const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6] ?? 0);
    if (stat !== '' && (flags & 0x00200000) !== 0) throw new HeapgapError('KERNEL_THREAD', `pid ${pid} is a kernel thread: it has no user memory`, { hint: 'pick a user-space process.' });
    throw new HeapgapError('PROCESS_GONE', `process ${pid} exited while heapgap was starting`, { hint: 'nothing was measured; run heapgap again on the new process.' });
  }
  return { status, startTime };
}

/**
 * gdb reads and writes the target through /proc/PID/mem, a 0600 file owned by the target's uid:
 * CAP_SYS_PTRACE passes the ptrace check but not the file permissions (needs the same uid, root or
 * CAP_DAC_OVERRIDE). Without it every call would fail half-way, so say it before attaching.
 */
async function memoryAccess(pid: number, status: ProcStatus): Promise<void> {
  try {
    await (await open(`/proc/${pid}/mem`, 'r')).close();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw procError(pid, 'mem', cause);
    throw new HeapgapError('PTRACE_DENIED', `cannot open /proc/${pid}/mem (process ${pid} runs as uid ${status.uid}, heapgap as uid ${process.getuid?.() ?? '?'})`, {
      cause,
      hint: `run heapgap as the target's user (sudo -u '#${status.uid}' heapgap …) or as root; CAP_SYS_PTRACE alone passes ptrace's check but not /proc/PID/mem's file permissions (CAP_DAC_OVERRIDE does).`,
    });
  }
}

/** Runs gdb against the target once, following the protocol above. */
/** Back-offs before trying again when every thread was inside the allocator (each try is one short stop). */
const RETRY_AFTER_MS = [50, 100, 200, 400, 800];
/**
 * Attached, no call under way, a thread of the target in state D, and no word from the driver for
 * this long: gdb is stuck waiting for that thread to stop (see runGdb).
 */
const STALL_MS = 2000;
/** Past the run's deadline (when the driver was asked to stop), silence this long ends gdb too. */
const DEADLINE_GRACE_MS = 5000;

/**
 * What the driver had done, from its last mark "<what> <seq> <calls> <malloc_trim's return or ->"
 * (see mark() in driver.py): for messages about a gdb that ended without a result.
 */
function driverProgress(state: string): { step: string; done: string } {
  const [what, , callsText, trimText] = state.split(' ');
  const calls = Number(callsText ?? 0) || 0;
  const done = trimText !== undefined && trimText !== '-'
    ? `malloc_trim had run (returned ${trimText}) but its effect was not measured`
    : calls > 0 ? `${calls} call${calls === 1 ? '' : 's'} had completed; nothing was measured` : 'no call had been made; nothing was measured';
  return { step: what || 'none, still attaching', done };
}

/** The driver's last mark, e.g. "call 12 3 -" (see mark() in driver.py), or '' before its first. */
function readState(file: string): string {
  try {
    return readFileSync(file, 'latin1').replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
}

export async function safeCall(req: SafeCallRequest): Promise<SafeCallResult> {
  for (let attempt = 0; ; attempt++) {
    let dir: string | null = null;
    try {
      const before = await preflight(req.pid);
      await refuseUninterruptible(req.pid);
      dir = await mkdtemp(join(tmpdir(), 'heapgap-'));
      return await runGdb(req, before, dir);
    } catch (error) {
      const wait = RETRY_AFTER_MS[attempt];
      const again = error instanceof HeapgapError && (error.code === 'NO_SAFE_THREAD' || error.code === 'TARGET_BUSY');
      if (!again || wait === undefined || Date.now() + wait >= req.deadline || req.signal?.aborted) throw error;
      req.onProgress?.(`${error.code === 'TARGET_BUSY' ? 'a thread is in uninterruptible sleep' : 'no thread was at a safe point'}; trying again in ${wait} ms`);
      await sleep(wait);
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * A thread in uninterruptible sleep (state D: disk or NFS I/O, a vfork parent waiting for its
 * child, a FUSE request) cannot be stopped by ptrace until it wakes, and gdb would keep every other
 * thread stopped while it waits: the whole process freezes for as long as that sleep lasts.
 */
async function refuseUninterruptible(pid: number): Promise<void> {
  // Tests turn the check off to reach the last resort in runGdb; users never need to.
  if (process.env.HEAPGAP_SKIP_D_CHECK === '1') return;
  // Disk I/O puts threads in D for a few milliseconds at a time: only a thread found in D three
  // times over about 50 ms counts (and safeCall tries again before refusing).
  let stuck = await uninterruptibleThreads(pid);
  for (const wait of [15, 35]) {
    if (stuck.length === 0) return;
    await sleep(wait);
    const now = new Set((await uninterruptibleThreads(pid)).map((t) => t.tid));
    stuck = stuck.filter((t) => now.has(t.tid));
  }
  if (stuck.length === 0) return;
  const which = stuck.slice(0, 3).map((t) => `${t.tid}${t.wchan ? ` in ${t.wchan}` : ''}`).join(', ');
  throw new HeapgapError('TARGET_BUSY', `thread ${which} of process ${pid} is in uninterruptible sleep (state D); attaching now would hold the other threads stopped until it wakes`, {
    hint: `try again when it is not (grep State /proc/${pid}/task/*/status); nothing was attached.`,
  });
}

/** Threads in state D, with the kernel function they wait in when /proc says it. */
export async function uninterruptibleThreads(pid: number): Promise<{ tid: number; wchan: string | null }[]> {
  const found: { tid: number; wchan: string | null }[] = [];
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const stat = await readProc(pid, `task/${tid}/stat`).catch(() => '');
    if (stat.charAt(stat.lastIndexOf(')') + 2) !== 'D') continue;
    const wchan = (await readProc(pid, `task/${tid}/wchan`).catch(() => '')).trim();
    found.push({ tid, wchan: wchan && wchan !== '0' ? wchan : null });
  }
  return found;
}

async function runGdb(req: SafeCallRequest, before: { status: ProcStatus; startTime: string }, dir: string): Promise<SafeCallResult> {
  // A signal that came before gdb exists must stop us here: its listener below would never fire.
  if (req.signal?.aborted) {
    const timedOut = req.signal.reason instanceof HeapgapError && req.signal.reason.code === 'TIMEOUT';
    throw timedOut
      ? new HeapgapError('TIMEOUT', `timed out before attaching; process ${req.pid} was not touched`, { hint: 'raise --timeout.' })
      : new HeapgapError('INTERRUPTED', `interrupted before attaching; process ${req.pid} was not touched`);
  }
  if (Date.now() >= req.deadline) throw new HeapgapError('TIMEOUT', `timed out before attaching; process ${req.pid} was not touched`, { hint: 'raise --timeout.' });
  const paramsFile = join(dir, 'params.json');
  const resultFile = join(dir, 'result.json');
  const abortFile = join(dir, 'abort');
  const stateFile = join(dir, 'state');
  const gateFile = join(dir, 'gate');
  await writeFile(gateFile, '');
  await writeFile(paramsFile, JSON.stringify(await driverParams(req, before.status, resultFile, abortFile, stateFile, gateFile)));
  const decoy = startDecoy()?.child;
  const args = [
    '-nx', '--batch', '--readnever',
    '-iex', 'set debuginfod enabled off',
    // An internal error in gdb must not leave a 50 MB core in the user's directory.
    '-iex', 'maint set internal-error corefile no',
    '-iex', 'maint set internal-warning corefile no',
    '-iex', 'set auto-solib-add off',
    // libthread_db would walk every thread's descriptor inside the stop; /proc/PID/task is enough.
    '-iex', 'set libthread-db-search-path /nonexistent',
    '-iex', 'set pagination off', '-iex', 'set confirm off', '-iex', 'set width 0',
    '-iex', `set tdesc filename ${join(ASSETS, 'amd64-linux-sse.xml')}`,
    '-iex', 'set unwindonsignal on',
    // scheduler-locking stays at gdb's default ("replay", which is off for a live process): locked,
    // the threads that hold an arena lock could not run and the call would deadlock.
    '-iex', 'handle all nostop noprint pass',
    ...segvHandling(before.status),
    // gdb checks the kernel's ptrace features on its first attach, forking test children: let that
    // happen on a throwaway process of ours, not while the target waits.
    ...(decoy ? ['-ex', `attach ${decoy.pid}`, '-ex', 'detach'] : []),
    '-ex', `file /proc/${req.pid}/exe`,
    '-ex', `add-symbol-file ${req.libc.path} -o 0x${req.libc.base.toString(16)}`,
    '-ex', `source ${join(ASSETS, 'driver.py')}`,
    '-ex', `python import time; print("${STOP_MARK}attach %.6f" % time.monotonic(), flush=True)`,
    '-ex', `attach ${req.pid}`,
    '-ex', `python print("${STOP_MARK}attached %.6f" % time.monotonic(), flush=True)`,
    '-ex', 'python heapgap_main()',
    '-ex', 'detach',
    '-ex', `python print("${STOP_MARK}detached %.6f" % time.monotonic(), flush=True)`,
    '-ex', 'python heapgap_finish()',
  ];
  const marks = new Map<string, number>();
  let attachedOnce = false;
  // Progress: gdb's own marks on stdout, and the driver's state file (see mark() in driver.py).
  let lastProgress = Date.now();
  let lastState = '';
  const ended: { stuckMs: number | null; state: string } = { stuckMs: null, state: '' };
  const child = execa('gdb', args, {
    env: { HEAPGAP_PARAMS: paramsFile, LC_ALL: 'C' },
    cwd: dir,
    extendEnv: true,
    stdin: 'ignore',
    detached: true, // its own session: a Ctrl-C at the terminal must not reach gdb mid-call
    reject: false,
    buffer: true,
    lines: false,
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('latin1').split('\n')) {
      if (!line.startsWith(STOP_MARK)) continue;
      const [what, when] = line.slice(STOP_MARK.length).split(' ');
      if (what && when) marks.set(what, Number(when) * 1000);
      lastProgress = Date.now();
      if (what === 'attached') {
        attachedOnce = true;
        req.onProgress?.('attached; calling malloc_info');
      }
    }
  });
  const askToStop = () => void writeFile(abortFile, '').catch(() => undefined);
  const attached = () => marks.has('attach') && !marks.has('detached');
  // Before attach gdb may be killed; once `attach` has begun only the driver may end the session.
  const stopOrKill = () => (attached() || attachedOnce ? askToStop() : child.kill('SIGKILL'));
  const timer = setTimeout(stopOrKill, Math.max(0, req.deadline - Date.now()));
  // Last resort. gdb waits for every thread it attached to report its stop; a thread in state D
  // (gone into uninterruptible sleep after the check before attaching) never does, and meanwhile
  // every other thread stays stopped. When the driver has said nothing for STALL_MS and a thread is
  // in D (or, for any other hang, the run's time is over and gdb has ignored the request to stop
  // for DEADLINE_GRACE_MS), heapgap takes the call token (a rename: the driver takes it before
  // every call, so this fails while a call is under way, and once it succeeds no call can start)
  // and ends gdb. The kernel then detaches every thread, and releaseStuck resumes what attach left
  // stopping. gdb is never ended during a call: the target would return into gdb's dummy frame
  // and die.
  let checking = false;
  let lastCheck = 0;
  const stall = setInterval(() => {
    if (checking || ended.stuckMs !== null || !attached()) return;
    const state = readState(stateFile);
    if (state !== lastState) {
      lastState = state;
      lastProgress = Date.now();
    }
    if (Date.now() - lastProgress < STALL_MS || /^(finish|call) /.test(state)) return;
    // Without a thread in D: only once the run's time is over and gdb has ignored the request to
    // stop for DEADLINE_GRACE_MS (a slow attach of thousands of threads is not stuck).
    const overdue = Date.now() >= req.deadline + DEADLINE_GRACE_MS && Date.now() - lastProgress >= DEADLINE_GRACE_MS;
    // /proc/PID/task/*/stat of thousands of threads is not read twenty times a second
    if (Date.now() - lastCheck < 250) return;
    lastCheck = Date.now();
    checking = true;
    void uninterruptibleThreads(req.pid)
      .then((d) => {
        if ((d.length === 0 && !overdue) || ended.stuckMs !== null || readState(stateFile) !== lastState) return;
        try {
          renameSync(gateFile, `${gateFile}.heapgap`);
        } catch {
          return; // the driver holds the token: a call is under way
        }
        ended.stuckMs = Date.now() - lastProgress;
        ended.state = lastState;
        child.kill('SIGKILL');
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  }, 50);
  req.signal?.addEventListener('abort', stopOrKill, { once: true });
  // An abort between the check on entry and this listener would otherwise be lost.
  if (req.signal?.aborted) stopOrKill();
  let run;
  try {
    run = await child;
  } catch (cause) {
    throw gdbSpawnError(cause);
  } finally {
    clearTimeout(timer);
    clearInterval(stall);
    req.signal?.removeEventListener('abort', stopOrKill);
    decoy?.kill('SIGKILL');
    await decoy?.catch(() => undefined);
  }
  if (run.failed && run.exitCode === undefined && !run.isTerminated) throw gdbSpawnError(run); // never started
  if (ended.stuckMs !== null) throw await releaseStuck(req.pid, before, ended.stuckMs, ended.state);
  const notes = await afterChecks(req.pid, before);
  const result = await readResult(resultFile);
  if (process.env.HEAPGAP_DEBUG) {
    process.stderr.write(`--- gdb stdout\n${String(run.stdout)}\n--- gdb stderr\n${String(run.stderr)}\n--- driver steps (ms since attach)\n`);
    for (const [ms, what] of result?.steps ?? []) process.stderr.write(`${ms.toFixed(1).padStart(8)}  ${what}\n`);
    if (result) process.stderr.write(`rejected threads: ${JSON.stringify(result.rejected)}\n`);
  }
  const stderr = String(run.stderr ?? '');
  if (!result) {
    // No result file. If the driver had started, say what it had done, not "not touched".
    const state = readState(stateFile);
    if (state) {
      const { step, done } = driverProgress(state);
      throw new HeapgapError('GDB_FAILED', `gdb ended without a result (exit ${run.exitCode ?? run.signal ?? '?'}; driver's last step: ${step}; ${done}); process ${req.pid} was checked afterwards`, {
        hint: `${notes.length ? `${notes.join('; ')}. ` : ''}run with HEAPGAP_DEBUG=1 to see gdb's output.`,
      });
    }
    throw attachFailure(req.pid, stderr, run.exitCode, req.signal?.aborted === true, Date.now() >= req.deadline);
  }
  if (result.error || !result.mallocInfo || !result.layout) {
    const why = !req.signal?.aborted ? false : req.signal.reason instanceof HeapgapError && req.signal.reason.code === 'TIMEOUT' ? 'timeout' : 'signal';
    throw driverFailure(req.pid, result, Date.now() >= req.deadline && !why ? 'timeout' : why);
  }
  const t0 = marks.get('attach');
  const t1 = marks.get('attached');
  const t2 = marks.get('detached');
  return {
    mallocInfo: result.mallocInfo,
    layout: result.layout,
    smapsBefore: result.smapsBefore,
    smapsAfter: result.smapsAfter,
    trimReturned: result.trimReturned,
    thread: result.thread ?? req.pid,
    stoppedMs: t0 !== undefined && t2 !== undefined ? round(t2 - t0) : null,
    attachMs: t0 !== undefined && t1 !== undefined ? round(t1 - t0) : null,
    callMs: round(result.callMs),
    notes,
  };
}

async function driverParams(req: SafeCallRequest, status: ProcStatus, resultFile: string, abortFile: string, stateFile: string, gateFile: string) {
  const { image, libc } = req;
  const abs = (v: bigint) => `0x${(libc.base + v).toString(16)}`;
  const addr: Record<string, string> = {};
  for (const name of ['memfd_create', 'fdopen', 'setvbuf', 'fclose', 'close', 'malloc_info', 'malloc_trim', 'lseek', 'mmap', 'munmap']) {
    const sym = image.symbols.get(name);
    if (!sym) {
      throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `the target's libc has no ${name}()`, {
        hint: name === 'memfd_create' ? 'glibc older than 2.27 is not supported yet.' : 'is this really glibc?',
      });
    }
    addr[name] = abs(sym.value);
  }
  const name = image.findString(MEMFD_NAME);
  const mode = image.findString('w');
  if (name === null || mode === null) throw new HeapgapError('UNSUPPORTED_ALLOCATOR', "cannot find the argument strings in the target's libc");
  addr.name = abs(name);
  addr.mode = abs(mode);
  const forbiddenRanges = [...image.symbols]
    .filter(([n, s]) => FORBIDDEN_SYMBOLS.test(n) && s.size > 0)
    .map(([, s]) => [abs(s.value), abs(s.value + BigInt(s.size))]);
  const libcText = image.segments.filter((s) => s.flags & 1).map((s) => [abs(s.vaddr), abs(s.vaddr + BigInt(s.memsz))]);
  return {
    mode: req.mode,
    pad: req.pad,
    addr,
    forbiddenFrames: FORBIDDEN_FRAMES,
    forbiddenRanges,
    libcText,
    threadOrder: await threadOrder(req.pid, libc.base, image),
    watchdogSignals: watchdogSignals(status),
    callBudgetMs: req.callBudgetMs,
    // Tests force the fallback channel this way; users never need to.
    channel: process.env.HEAPGAP_CHANNEL === 'mmap' ? 'mmap' : 'auto',
    heapCandidates: req.heapCandidates.map((c) => `0x${c.toString(16)}`),
    layout: req.layout,
    pid: req.pid,
    resultFile,
    abortFile,
    stateFile,
    gateFile,
  };
}

/**
 * Threads blocked in a syscall whose pc is in libc come first: those are the ones the driver can
 * call from. Read from /proc before attaching so the stop does not wait on it.
 */
async function threadOrder(pid: number, base: bigint, image: LibcImage): Promise<number[]> {
  const text = image.segments.filter((s) => s.flags & 1).map((s) => [base + s.vaddr, base + s.vaddr + BigInt(s.memsz)] as const);
  const scored: [number, number][] = [];
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const line = (await readProc(pid, `task/${tid}/syscall`).catch(() => 'running')).trim();
    const parts = line.split(' ');
    const pc = parts.length >= 9 && /^\d+$/.test(parts[0]!) ? BigInt(parts[8]!) : null;
    const inLibc = pc !== null && text.some(([lo, hi]) => pc >= lo && pc < hi);
    scored.push([tid, inLibc ? 0 : pc !== null ? 1 : 2]);
  }
  return scored.sort((a, b) => a[1] - b[1]).map(([tid]) => tid);
}

/**
 * A process of our own for gdb's first attach. Only where attaching to a non-descendant is allowed
 * (no Yama, scope 0, or root): otherwise gdb would just print an error and nothing is gained.
 */
function startDecoy() {
  let scope: string | undefined;
  try {
    scope = readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'latin1').trim();
  } catch {
    scope = undefined;
  }
  if (scope !== undefined && scope !== '0' && !(scope === '1' && process.getuid?.() === 0)) return null;
  const child = execa('sleep', ['60'], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
  // Wrapped: returning execa's thenable from a function that is awaited would wait for it to exit.
  return child.pid === undefined ? null : { child };
}

/** Signals the watchdog may use to unwind a call: not caught by the target, ignored by default. */
function watchdogSignals(status: ProcStatus): [number, string][] {
  const candidates: [number, string][] = [[28, 'SIGWINCH'], [23, 'SIGURG']];
  return candidates.filter(([sig]) => !hasSignal(status.sigCgt, sig));
}

/**
 * A fault in the called function must be caught and unwound, not delivered. But runtimes that
 * install a SIGSEGV handler (JVM safepoint polls, V8, Python's faulthandler) raise it on purpose
 * in their own threads: those targets get their signals passed through untouched.
 */
function segvHandling(status: ProcStatus): string[] {
  const sigs = ['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT'];
  const numbers: Record<string, number> = { SIGSEGV: 11, SIGBUS: 7, SIGILL: 4, SIGFPE: 8, SIGABRT: 6 };
  return sigs.filter((s) => !hasSignal(status.sigCgt, numbers[s]!)).flatMap((s) => ['-iex', `handle ${s} stop print nopass`]);
}

/** After gdb: the target must be the same process, untraced, and not left stopped. */
async function afterChecks(pid: number, before: { status: ProcStatus; startTime: string }): Promise<string[]> {
  const notes: string[] = [];
  let status: ProcStatus | null = null;
  for (let i = 0; i < 100; i++) {
    try {
      status = parseStatus(await readProc(pid, 'status'));
    } catch {
      status = null;
      break;
    }
    if (status.tracerPid === 0) break;
    await sleep(10);
  }
  const startTime = await readStartTime(pid).catch(() => null);
  if (!status || startTime !== before.startTime || status.state === 'Z' || status.state === 'X') {
    throw new HeapgapError('PROCESS_GONE', `process ${pid} exited while heapgap was attached`, {
      hint: 'nothing was measured. If it exited on its own, run heapgap again on the new process.',
    });
  }
  if (status.tracerPid !== 0) notes.push(`the target is still traced by pid ${status.tracerPid} after gdb exited`);
  if ((status.state === 'T' || status.state === 't') && before.status.state !== 'T') {
    process.kill(pid, 'SIGCONT');
    notes.push('the target was left in group-stop after detach and was resumed with SIGCONT');
  }
  const left = await leftoverMemfds(pid, MEMFD_NAME);
  if (left === null) notes.push('could not check the target\'s fds afterwards (/proc/PID/fd is not readable without its uid)');
  else if (left.length > 0) notes.push(`memfd ${left.join(', ')} left open in the target`);
  return notes;
}

/**
 * After gdb was ended outside a call: resume what attach left stopping, check the process, and say
 * what had been done. `state` is the driver's last mark: "<what> <seq> <calls> <trim return or ->".
 */
async function releaseStuck(pid: number, before: { status: ProcStatus; startTime: string }, stuckMs: number, state: string): Promise<HeapgapError> {
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

async function readResult(file: string): Promise<DriverResult | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DriverResult;
  } catch {
    return null;
  }
}

function attachFailure(pid: number, stderr: string, exitCode: number | undefined, interrupted: boolean, late: boolean): HeapgapError {
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

function driverFailure(pid: number, result: DriverResult, interrupted: false | 'timeout' | 'signal'): HeapgapError {
  const message = result.error?.message ?? 'malloc_info produced no output';
  if (interrupted) return new HeapgapError(interrupted === 'timeout' ? 'TIMEOUT' : 'INTERRUPTED', `${interrupted === 'timeout' ? 'timed out' : 'interrupted'}; detached from ${pid} cleanly (${message})`);
  if (result.interrupted) return new HeapgapError('CALL_TIMEOUT', message, { hint: 'the allocator was busy; try again, or raise --call-budget.' });
  if (/no thread is parked/.test(message)) {
    const reasons = Object.entries(result.rejected).slice(0, 4).map(([t, r]) => `${t}: ${r}`).join('; ');
    return new HeapgapError('NO_SAFE_THREAD', `${message} [${reasons}]`, { hint: 'every thread was busy inside the allocator or in user code; try again in a moment.' });
  }
  return new HeapgapError('GDB_FAILED', `the call into ${pid} failed: ${message}`, { hint: 'the target was detached and checked; nothing was changed.' });
}

function gdbSpawnError(cause: unknown): HeapgapError {
  return new HeapgapError('GDB_MISSING', 'gdb is not installed (or not on PATH)', { cause, hint: 'install it: apt-get install gdb (Debian/Ubuntu), dnf install gdb (Fedora/RHEL).' });
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
