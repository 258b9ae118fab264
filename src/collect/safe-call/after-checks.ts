import { HeapgapError } from '../../errors.js';
import { parseStatus } from '../../parse/status.js';
import type { ProcStatus } from '../../types.js';
import { leftoverMemfds, readProc, readStartTime } from '../procfs.js';
import type { Before } from './types.js';

/** The name of the memfd the driver opens: a leftover one is found by it. */
export const MEMFD_NAME = 'malloc_info';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export /** After gdb: the target must be the same process, untraced, and not left stopped. */
async function afterChecks(pid: number, before: Before): Promise<string[]> {
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

