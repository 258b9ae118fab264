/**
 * glibc analysed when no call was made: the heap check found the free lists corrupt, so malloc_info
 * was never called. Each arena's figures come from the walk itself (top, fastbins, bins: exactly the
 * lists malloc_info sums), whole for the arenas walked to their ends; the corrupt one's stop at the
 * corruption. Heaps and their Rss come from the ring and smaps as usual. No trim is predicted: none
 * should be made on a corrupt heap.
 */
import { finding } from '../../analyse/findings/index.js';
import type { ArenaReport } from '../../types.js';
import { sum } from '../../units.js';
import type { AllocatorAnalysis, AnalyseInput } from '../types.js';
import { mainHeaps, permAt, threadHeaps } from './heaps.js';
import type { SectionClaim } from './heaps.js';
import type { GlibcSection, HeapCheck } from './section.js';

export function analyseUncalled(section: GlibcSection, check: HeapCheck, input: AnalyseInput): AllocatorAnalysis {
  const claims: SectionClaim[] = section.claims.map((c) => ({ ...c, start: BigInt(c.start), end: BigInt(c.end), perm: permAt(input.vmas, BigInt(c.start)) }));
  const arenas = check.arenas.map((a): ArenaReport => {
    const main = a.index === 0;
    const heaps = main ? mainHeaps(input.vmas) : threadHeaps(claims, a.index, a.heaps, section.heapMax);
    const topBytes = a.topBytes ?? 0;
    const freeBytes = a.fastBytes + a.binBytes + topBytes;
    const inUseBytes = Math.max(0, a.systemMem - freeBytes);
    const rssBytes = sum(heaps.map((h) => h.rss));
    return {
      index: a.index,
      allocator: 'glibc',
      kind: main ? 'main' : 'thread',
      address: a.address,
      heaps,
      systemBytes: a.systemMem,
      inUseBytes,
      freeBytes,
      fastFreeBytes: a.fastBytes,
      binFreeBytes: a.binBytes,
      topBytes,
      rssBytes,
      heldFreeRssBytes: Math.max(0, rssBytes - inUseBytes),
      pinnedTop: false,
      predictedTrimBytes: 0,
      purgeableBytes: 0,
      join: 'memory',
    };
  });
  const chunkClaims = claims.filter((c) => c.category === 'mmap-chunk');
  const mmapChunks = { count: chunkClaims.length, bytes: sum(chunkClaims.map((c) => Number(c.end - c.start))), rss: sum(chunkClaims.map((c) => c.rss)) };
  const partial = check.arenas.filter((a) => !a.whole).map((a) => a.index);
  const notes = [
    `malloc_info was not called: the free lists are corrupt. Arena figures come from walking them from outside in ${check.ms.toFixed(1)} ms${partial.length ? `; arena ${partial.join(', ')} ${partial.length === 1 ? 'is' : 'are'} counted only up to the corruption (free bytes are a lower bound there)` : ''}; mmapped chunks are those found in memory`,
  ];
  return { arenas, claims, stats: null, mmapChunks, findings: [finding('heap-corrupt', 'critical', null, { pid: input.pid, problems: check.corrupt })], notes };
}
