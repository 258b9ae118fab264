import { readFile } from 'node:fs/promises';

/** USER_HZ: /proc/PID/stat counts clock ticks, 100 per second on every Linux ABI heapgap runs on. */
const TICK_MS = 10;

/**
 * CPU time (user + system, ms) of a process tree as the kernel accounts it right now: for each
 * process in the tree its own utime+stime plus cutime+cstime, the times of its children it has
 * already reaped (a child reaped by an intermediate process, or by the root, is counted once,
 * through whoever reaped it; a zombie not yet reaped still lists itself). Processes that vanish
 * between listing and reading simply count 0 for this sample.
 */
export async function treeCpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => '');
    ticks += cpuTicks(stat);
  }
  return ticks * TICK_MS;
}

/** utime + stime + cutime + cstime from one /proc/PID/stat line (0 for empty or malformed text). */
export function cpuTicks(stat: string): number {
  // comm (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime..cstime are fields 14..17.
  const fields = rest.slice(11, 15).map(Number);
  return fields.length === 4 && fields.every(Number.isFinite) ? fields.reduce((a, b) => a + b, 0) : 0;
}
