import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HeapgapError } from '../../errors.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every process (thread-group leader) in /proc, except heapgap itself. */
export async function allProcesses(): Promise<number[]> {
  const names = await readdir('/proc');
  return names.filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => pid !== process.pid).sort((a, b) => a - b);
}

/**
 * The processes of a cgroup and every cgroup below it. PATH is a directory under /sys/fs/cgroup or a
 * path as /proc/PID/cgroup prints it (`/system.slice/nginx.service`); on cgroup v1 the memory
 * hierarchy is tried after the unified one.
 */
export async function cgroupProcesses(path: string): Promise<{ dir: string; pids: number[] }> {
  const candidates = path.startsWith(`${CGROUP_ROOT}/`) || path === CGROUP_ROOT
    ? [path]
    : [join(CGROUP_ROOT, path), join(CGROUP_ROOT, 'unified', path), join(CGROUP_ROOT, 'memory', path)];
  for (const dir of candidates) {
    const st = await stat(join(dir, 'cgroup.procs')).catch(() => null);
    if (!st) continue;
    const pids = new Set<number>();
    await collect(dir, pids);
    pids.delete(process.pid);
    return { dir, pids: [...pids].sort((a, b) => a - b) };
  }
  throw new HeapgapError('USAGE', `no cgroup at ${path} (looked for cgroup.procs in ${candidates.join(', ')})`, {
    hint: 'give a directory under /sys/fs/cgroup or a path as /proc/PID/cgroup shows it, e.g. --cgroup /system.slice/nginx.service',
  });
}

async function collect(dir: string, into: Set<number>): Promise<void> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'latin1').catch(() => '');
  for (const line of text.split('\n')) if (/^\d+$/.test(line)) into.add(Number(line));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await collect(join(dir, e.name), into);
}
