import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HeapgapError } from '../errors.js';
import { parseStat } from '../parse/stat.js';

/** Raw text of /proc/PID/<name>. Errors become NO_SUCH_PROCESS or PTRACE_DENIED with a hint. */
export async function readProc(pid: number, name: string): Promise<string> {
  const chunks = readProcChunks(pid, name);
  return chunks.length === 1 ? chunks[0]!.toString('latin1') : Buffer.concat(chunks).toString('latin1');
}

export async function readProcBuffer(pid: number, name: string): Promise<Buffer> {
  const chunks = readProcChunks(pid, name);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

// procfs hands out at most a page of whole records per read(2) (measured: 3.7-4.0 KB per read of a
// 43 MB smaps); regular files fill the buffer. 64 KiB is plenty for both.
const CHUNK = 64 * 1024;

/**
 * /proc/PID/<name> as a list of buffers, each exactly as long as what it holds. Synchronous on
 * purpose (a third faster than the promise API on a 40 MB smaps), and not readFileSync: procfs
 * files report size 0, and for those readFileSync's growing reads peaked at three times the file
 * (136 MB of buffers for a 43 MB smaps). Here the peak is the file plus one scratch buffer.
 */
export function readProcChunks(pid: number, name: string, limit = Infinity): Buffer[] {
  const chunks: Buffer[] = [];
  readProcEach(pid, name, (chunk) => chunks.push(Buffer.from(chunk)), limit);
  return chunks;
}

/**
 * Reads /proc/PID/<name> through one scratch buffer, handing each read to fn, which must not keep
 * it: parsing as the file is read, nothing ever holds the whole file. Only the open and the reads
 * become NO_SUCH_PROCESS / PTRACE_DENIED; what fn throws passes through as it is.
 */
export function readProcEach(pid: number, name: string, fn: (chunk: Buffer) => void, limit = Infinity): void {
  readEach(`/proc/${pid}/${name}`, fn, limit, (cause) => procError(pid, name, cause));
}

/** readProcEach for any file; open and read errors go through `wrap` (default: as they are). */
export function readEach(path: string, fn: (chunk: Buffer) => void, limit = Infinity, wrap: (cause: unknown) => unknown = (c) => c): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw wrap(cause);
  }
  try {
    const scratch = Buffer.allocUnsafeSlow(Math.min(CHUNK, limit));
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, scratch, 0, Math.min(scratch.length, limit - total), null);
      } catch (cause) {
        throw wrap(cause);
      }
      if (n === 0) break;
      fn(scratch.subarray(0, n));
      total += n;
      if (total >= limit) break;
    }
  } finally {
    closeSync(fd);
  }
}

export function procError(pid: number, name: string, cause: unknown): HeapgapError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') {
    return new HeapgapError('NO_SUCH_PROCESS', `no process with pid ${pid}`, { cause, hint: 'check the pid with `ps -p PID`; the process may have exited.' });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new HeapgapError('PTRACE_DENIED', `permission denied reading /proc/${pid}/${name}`, {
      cause,
      hint: 'run heapgap as the user that owns the process, or as root / with CAP_SYS_PTRACE (inside a container: --cap-add=SYS_PTRACE).',
    });
  }
  return new HeapgapError('NO_SUCH_PROCESS', `cannot read /proc/${pid}/${name}: ${(cause as Error).message}`, { cause });
}

/**
 * Thread ids of the process. Synchronous underneath, as every read of /proc here: the kernel makes
 * these directories and links on the spot, and a promise-API call per entry went through libuv's
 * thread pool (measured: 5 readlinks after detach took 0.6-5 ms, all of it while the user waits).
 */
export async function listTasks(pid: number): Promise<number[]> {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter(Number.isInteger);
  } catch (cause) {
    throw procError(pid, 'task', cause);
  }
}

/** Field 22 of /proc/PID/stat: the start time in clock ticks, which tells a reused pid apart. */
export async function readStartTime(pid: number): Promise<string> {
  return parseStat(await readProc(pid, 'stat'))?.startTime ?? '';
}

/** Online CPUs per /sys/devices/system/cpu/online, which is what glibc's arena limit uses. */
export async function onlineCpus(): Promise<number> {
  try {
    const text = readFileSync('/sys/devices/system/cpu/online', 'latin1').trim();
    let n = 0;
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - (a ?? b) + 1;
    }
    return n > 0 ? n : 1;
  } catch {
    return 1;
  }
}

export async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'latin1');
  } catch {
    return null;
  }
}

/** The process's open fds that are memfds created by heapgap (left behind = a bug); null if unreadable. */
export async function leftoverMemfds(pid: number, name: string): Promise<number[] | null> {
  const fds: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  // (a server holds thousands: one readlink each, each one system call)
  for (const fd of entries) {
    let link = '';
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // closed meanwhile
    }
    if (link.startsWith(`/memfd:${name}`)) fds.push(Number(fd));
  }
  return fds;
}
