/**
 * musl (mallocng, 1.2.x), named plainly: it exports only malloc/free/malloc_usable_size and keeps
 * no statistics, so nothing is called in the target. What smaps alone says: [heap] (brk) holds
 * mallocng's metadata areas, and its groups are anonymous mappings (seen: 20,000 small blocks ->
 * 32 KiB of [heap], 5.6 MiB anonymous) that free() unmaps or madvises itself, so there is no trim
 * call and no held-free figure to give.
 */
import type { Vma } from '../../types.js';
import type { OtherInput } from '../common.js';
import { finding } from '../../analyse/findings/index.js';
import { mib } from '../../units.js';
import type { AllocatorAnalysis, Claim } from '../types.js';

/** musl's capture section: only which object it is (nothing is read in a stop). */
export interface MuslSection {
  object: string;
}

export function analyseMusl(vmas: Vma[], input: OtherInput): AllocatorAnalysis {
  const brk = vmas.filter((v) => v.pathname === '[heap]');
  const brkRss = brk.reduce((a, v) => a + v.rss, 0);
  const anonRss = vmas.filter((v) => v.pathname === '' && v.perms.startsWith('rw')).reduce((a, v) => a + v.rss, 0);
  // Only [heap] can be said to be musl's (its metadata): musl's own code is what grows brk.
  const claims: Claim[] = brk.map((v) => ({ start: v.start, end: v.end, category: 'arena', rss: v.rss }));
  return {
    stats: { brkRss, anonRss },
    arenas: [],
    claims,
    mmapChunks: null,
    findings: [finding('musl-no-stats', 'info', null, { brkRss, anonRss })],
    notes: [`musl (process ${input.pid}): no statistics API; [heap] (${mib(brkRss)} resident, mallocng's metadata) is counted as its own, its groups stay under anon-other.`],
  };
}
