import { closeSync, openSync } from 'node:fs';
import { HeapgapError } from '../../errors.js';
import { PF_KTHREAD, parseStat } from '../../parse/stat.js';
import { parseStatus } from '../../parse/status.js';
import type { ProcStatus } from '../../types.js';
import { listTasks, procError, readProc, readProcChunks, readStartTime } from '../procfs.js';
import type { Before } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks made before attaching; the returned status is the "before" picture for the after-checks. */
export async function preflight(pid: number): Promise<Before> {
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
    const stat = parseStat(await readProc(pid, 'stat').catch(() => ''));
    if (stat !== null && (stat.flags & PF_KTHREAD) !== 0) throw new HeapgapError('KERNEL_THREAD', `pid ${pid} is a kernel thread: it has no user memory`, { hint: 'pick a user-space process.' });
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
    closeSync(openSync(`/proc/${pid}/mem`, 'r'));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw procError(pid, 'mem', cause);
    throw new HeapgapError('PTRACE_DENIED', `cannot open /proc/${pid}/mem (process ${pid} runs as uid ${status.uid}, heapgap as uid ${process.getuid?.() ?? '?'})`, {
      cause,
      hint: `run heapgap as the target's user (sudo -u '#${status.uid}' heapgap …) or as root; CAP_SYS_PTRACE alone passes ptrace's check but not /proc/PID/mem's file permissions (CAP_DAC_OVERRIDE does).`,
    });
  }
}

/**
 * A thread in uninterruptible sleep (state D: disk or NFS I/O, a vfork parent waiting for its
 * child, a FUSE request) cannot be stopped by ptrace until it wakes, and gdb would keep every other
 * thread stopped while it waits: the whole process freezes for as long as that sleep lasts.
 */
export async function refuseUninterruptible(pid: number): Promise<void> {
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
    if (parseStat(await readProc(pid, `task/${tid}/stat`).catch(() => ''))?.state !== 'D') continue;
    const wchan = (await readProc(pid, `task/${tid}/wchan`).catch(() => '')).trim();
    found.push({ tid, wchan: wchan && wchan !== '0' ? wchan : null });
  }
  return found;
}

