/**
 * trim --settle: Rss read again some time after the release call, with the target running. Memory
 * released with MADV_FREE (jemalloc's muzzy pages, glibc on some kernels) stays in Rss as LazyFree
 * until the kernel reclaims it, and khugepaged can collapse released ranges back into huge pages.
 */
import { readProc } from './procfs.js';

export interface SettledRaw {
  afterMs: number;
  smaps: string;
  rollup: string;
}

export async function readSettled(pid: number, afterMs: number, signal?: AbortSignal): Promise<SettledRaw> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, afterMs);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
  const [smaps, rollup] = await Promise.all([readProc(pid, 'smaps'), readProc(pid, 'smaps_rollup').catch(() => '')]);
  return { afterMs, smaps, rollup };
}
