/**
 * The driver's parameters: everything about the stop that can be decided before attaching, so that
 * the stop itself only chooses a thread and makes the calls.
 */
import { HeapgapError } from '../../errors.js';
import type { ProcStatus } from '../../types.js';
import type { LibcImage } from '../elf.js';
import { listTasks, readProc } from '../procfs.js';
import { hasSignal } from '../../parse/status.js';
import { parseSyscall } from '../../parse/syscall.js';
import { MEMFD_NAME } from './after-checks.js';
import { segvHandling } from './gdb-argv.js';
import type { SafeCallRequest } from './types.js';

/** Frames a calling thread must not have on its stack: it could hold a lock the call needs. */
export const FORBIDDEN_FRAMES =
  'malloc|free|calloc|realloc|memalign|valloc|_int_|arena|tcache|sysmalloc|systrim|mtrim|fork|_dl_|dlopen|dlclose|dlsym|_IO_|fopen|fclose|fdopen|printf|exit|abort|backtrace|pthread_atfork|je_|mallctl|tcmalloc|mi_';
/** The same, for libc's symbols whose address ranges are known without debug info: these names and their __libc_ twins. */
const FORBIDDEN_SYMBOLS = ['malloc', 'free', 'calloc', 'realloc', 'reallocarray', 'memalign', 'valloc', 'pvalloc', 'posix_memalign', 'aligned_alloc', 'malloc_trim', 'malloc_info', 'malloc_stats', 'mallinfo', 'mallinfo2', 'malloc_usable_size', 'fork', '_Fork', 'vfork', 'exit', '_exit', 'abort', 'dlopen', 'dlclose', 'dlsym', 'fclose', 'fopen', 'fdopen', 'fflush', 'cfree'].flatMap((n) => [n, `__libc_${n}`]);
/** libc functions the protocol itself calls (the output channel, scratch memory, cleanup). */
const CORE_FUNCTIONS = ['memfd_create', 'fdopen', 'setvbuf', 'fclose', 'close', 'lseek', 'mmap', 'munmap'];

const hex = (v: bigint) => `0x${v.toString(16)}`;

export async function driverParams(req: SafeCallRequest, status: ProcStatus, files: { resultFile: string; abortFile: string; stateFile: string; gateFile: string }) {
  const { image, base } = req.libc;
  const addr: Record<string, string> = {};
  for (const name of CORE_FUNCTIONS) {
    const sym = image.symbols.get(name);
    if (!sym) {
      throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `the target's libc has no ${name}()`, {
        hint: name === 'memfd_create' ? 'glibc older than 2.27 is not supported yet.' : 'is this really glibc?',
      });
    }
    addr[name] = hex(base + sym.value);
  }
  // Arguments are bytes already in libc: nothing is copied into the target for them.
  const name = image.findString(MEMFD_NAME);
  const mode = image.findString('w');
  if (name === null || mode === null) throw new HeapgapError('UNSUPPORTED_ALLOCATOR', "cannot find the argument strings in the target's libc");
  addr.name = hex(base + name);
  addr.mode = hex(base + mode);
  // looked up by name: a regular expression over all of libc's ~3,000 symbols was 1.4 ms before attach
  const libcForbidden = FORBIDDEN_SYMBOLS.flatMap((n): [bigint, bigint][] => {
    const s = image.symbols.get(n);
    return s && s.size > 0 ? [[base + s.value, base + s.value + BigInt(s.size)]] : [];
  });
  const forbiddenRanges = [...libcForbidden, ...req.plans.flatMap((p) => p.forbiddenRanges)].map(([a, b]) => [hex(a), hex(b)]);
  return {
    // what gdb loads before attaching (driver.py heapgap_load): libc's symbols at its load bias
    libc: { path: req.libc.path, base: hex(req.libc.base) },
    stopSignals: segvHandling(status),
    mode: req.mode,
    release: req.release,
    pad: req.pad,
    addr,
    allocators: req.plans.map((p) => ({ name: p.name, script: p.script, params: p.params })),
    forbiddenFrames: FORBIDDEN_FRAMES,
    forbiddenRanges,
    libcText: libcText(base, image).map(([a, b]) => [hex(a), hex(b)]),
    threadOrder: await threadOrder(req.pid, base, image),
    watchdogSignals: watchdogSignals(status),
    callBudgetMs: req.callBudgetMs,
    // the run's end (epoch ms): a walk before attach may take what the rest of the session does not need
    deadline: req.deadline,
    // Tests force the fallback channel this way; users never need to.
    channel: process.env.HEAPGAP_CHANNEL === 'mmap' ? 'mmap' : 'auto',
    pid: req.pid,
    ...files,
  };
}

const libcText = (base: bigint, image: LibcImage) =>
  image.segments.filter((s) => s.flags & 1).map((s) => [base + s.vaddr, base + s.vaddr + BigInt(s.memsz)] as const);

/**
 * Threads blocked in a syscall whose pc is in libc come first: those are the ones the driver can
 * call from. Read from /proc before attaching so the stop does not wait on it.
 */
async function threadOrder(pid: number, base: bigint, image: LibcImage): Promise<number[]> {
  const text = libcText(base, image);
  const scored: [number, number][] = [];
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const sc = parseSyscall(await readProc(pid, `task/${tid}/syscall`).catch(() => 'running'));
    const pc = sc.blocked ? sc.pc : null;
    const inLibc = pc !== null && text.some(([lo, hi]) => pc >= lo && pc < hi);
    scored.push([tid, inLibc ? 0 : pc !== null ? 1 : 2]);
  }
  return scored.sort((a, b) => a[1] - b[1]).map(([tid]) => tid);
}

/** Signals the watchdog may use to unwind a call: not caught by the target, ignored by default. */
function watchdogSignals(status: ProcStatus): [number, string][] {
  const candidates: [number, string][] = [[28, 'SIGWINCH'], [23, 'SIGURG']];
  return candidates.filter(([sig]) => !hasSignal(status.sigCgt, sig));
}
