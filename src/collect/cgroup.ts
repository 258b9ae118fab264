import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupReport, parseProcCgroup } from '../kernel/cgroup.js';
import type { CgroupFiles, CgroupReport } from '../kernel/cgroup.js';

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];

/**
 * The memory cgroup of a process, read without touching the process. The path in /proc/PID/cgroup
 * is relative to heapgap's cgroup namespace root; inside a container the mount may be that root
 * itself, so the path's directory is tried first, then the mount root.
 */
export async function readCgroup(pid: number): Promise<CgroupReport | null> {
  const text = await read(`/proc/${pid}/cgroup`);
  if (text === null) return null;
  const { v1, v2 } = parseProcCgroup(text);
  if (v1 !== null) {
    for (const dir of [join(V1_ROOT, v1), V1_ROOT]) {
      const r = cgroupReport(1, v1, await files(dir, { current: 'memory.usage_in_bytes', peak: 'memory.max_usage_in_bytes', limit: 'memory.limit_in_bytes', stat: 'memory.stat', pressure: 'memory.pressure' }));
      if (r) return r;
    }
  }
  if (v2 !== null) {
    for (const root of V2_ROOTS) {
      for (const dir of [join(root, v2), root]) {
        const r = cgroupReport(2, v2, await files(dir, { current: 'memory.current', peak: 'memory.peak', limit: 'memory.max', stat: 'memory.stat', pressure: 'memory.pressure' }));
        if (r) return r;
      }
    }
  }
  return null;
}

async function files(dir: string, names: Record<keyof CgroupFiles, string>): Promise<CgroupFiles> {
  const [current, peak, limit, stat, pressure] = await Promise.all([names.current, names.peak, names.limit, names.stat, names.pressure].map((n) => read(join(dir, n))));
  return { current: current ?? null, peak: peak ?? null, limit: limit ?? null, stat: stat ?? null, pressure: pressure ?? null };
}

/** Synchronous: a few small files the kernel writes on the spot, read while the user waits. */
async function read(path: string): Promise<string | null> {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
