/**
 * tcmalloc (gperftools), analysed from its own figures: one page heap, no arenas.
 * Held free = page heap free + central + transfer + thread cache free lists. What
 * MallocExtension_ReleaseFreeMemory returns is the page heap's free spans (purgeable); objects in
 * the caches stay. The page heap's mappings are claimed where tcmalloc's page map owns their first
 * probe pages ([heap] when it grew with sbrk, and its own mmaps); a mapping the kernel merged with a
 * neighbour is claimed whole.
 */
import { gapSeverity } from '../common.js';
import type { OtherInput } from '../common.js';
import { finding } from '../../analyse/findings/index.js';
import type { Finding } from '../../analyse/findings/index.js';
import type { OtherArenaReport } from '../../types.js';
import type { AllocatorAnalysis, Claim } from '../types.js';
import type { TcmallocSection } from './section.js';

const MIB = 1024 * 1024;

export function analyseTcmalloc(s: TcmallocSection, input: OtherInput): AllocatorAnalysis {
  const p = (k: string) => s.properties[k] ?? null;
  const allocated = p('generic.current_allocated_bytes')!;
  const heapSize = p('generic.heap_size')!;
  const pageheapFree = p('tcmalloc.pageheap_free_bytes') ?? 0;
  const unmapped = p('tcmalloc.pageheap_unmapped_bytes') ?? 0;
  const central = p('tcmalloc.central_cache_free_bytes') ?? 0;
  const transfer = p('tcmalloc.transfer_cache_free_bytes') ?? 0;
  const thread = p('tcmalloc.thread_cache_free_bytes') ?? 0;
  const caches = central + transfer + thread;
  const claims: Claim[] = s.claims.map((c) => ({ start: BigInt(c.start), end: BigInt(c.end), category: 'arena', rss: c.rss }));
  const claimedRss = claims.reduce((a, c) => a + c.rss, 0);
  const stats = {
    allocated, heapSize, pageheapFree, pageheapUnmapped: unmapped, centralCacheFree: central, transferCacheFree: transfer, threadCacheFree: thread,
    totalPhysical: p('generic.total_physical_bytes'), metadata: s.statsText?.metadata ?? null,
    maxTotalThreadCacheBytes: p('tcmalloc.max_total_thread_cache_bytes'),
    aggressiveDecommit: p('tcmalloc.aggressive_memory_decommit') === null ? null : p('tcmalloc.aggressive_memory_decommit') !== 0,
    purgeableBytes: pageheapFree, notPurgeableBytes: caches, heldFreeBytes: pageheapFree + caches,
    spans: s.statsText?.spans ?? null, threadHeaps: s.statsText?.threadHeaps ?? null, pageSize: s.statsText?.pageSize ?? null,
  };
  const arena: OtherArenaReport = {
    index: 0, allocator: 'tcmalloc', kind: null, address: null,
    heaps: claims.map((c) => ({ start: `0x${c.start.toString(16)}`, end: `0x${c.end.toString(16)}`, size: Number(c.end - c.start), mappedBytes: Number(c.end - c.start), rss: c.rss, vmas: [{ start: `0x${c.start.toString(16)}`, end: `0x${c.end.toString(16)}`, rss: c.rss, perm: 'rw-p' }] })),
    systemBytes: heapSize, inUseBytes: allocated, freeBytes: pageheapFree + caches,
    fastFreeBytes: null, binFreeBytes: null, topBytes: null,
    rssBytes: claims.length > 0 ? claimedRss : null,
    heldFreeRssBytes: pageheapFree + caches, purgeableBytes: pageheapFree, notPurgeableBytes: caches,
    pinnedTop: null, predictedTrimBytes: pageheapFree, join: claims.length > 0 ? 'memory' : 'allocator',
    detail: { unmapped, central, transfer, thread },
  };
  const notes: string[] = [];
  if (!s.ownershipChecked) notes.push('tcmalloc exports no MallocExtension_GetOwnership: its mappings are not claimed and stay under anon-other');
  else if (claims.length === 0) notes.push('no probed page belongs to tcmalloc\'s page heap: its memory is not told apart from other anonymous memory');
  else notes.push(`tcmalloc's page heap: ${claims.length} mapping(s) with pages its page map owns, ${(claimedRss / MIB).toFixed(1)} MiB resident (claimed whole: its metadata, and anything the kernel merged into the same mapping, are not told apart).`);
  return { stats, arenas: [arena], claims, mmapChunks: null, findings: findings(input, { pageheapFree, caches, central, transfer, thread, limit: p('tcmalloc.max_total_thread_cache_bytes'), aggressive: p('tcmalloc.aggressive_memory_decommit') === 1 }), notes };
}

function findings(input: OtherInput, f: { pageheapFree: number; caches: number; central: number; transfer: number; thread: number; limit: number | null; aggressive: boolean }): Finding[] {
  const out: Finding[] = [];
  if (f.pageheapFree >= MIB) {
    out.push(finding('tcmalloc-pageheap-free', gapSeverity(f.pageheapFree, input.rssTotal), f.pageheapFree, {
      pid: input.pid, bytes: f.pageheapFree, share: f.pageheapFree / Math.max(1, input.rssTotal), releaseRate: input.env.TCMALLOC_RELEASE_RATE ?? null, aggressive: f.aggressive,
    }));
  }
  if (f.caches >= 8 * MIB) {
    out.push(finding('tcmalloc-cache-free', f.caches >= 64 * MIB ? 'warn' : 'info', f.caches, {
      bytes: f.caches, central: f.central, transfer: f.transfer, thread: f.thread, threadLimit: f.limit,
    }));
  }
  return out;
}
