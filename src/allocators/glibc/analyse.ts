/** glibc malloc, analysed: malloc_info's arenas joined to their heaps, the gap, trim prediction, advice. */
import { HeapgapError } from '../../errors.js';
import { tunable } from '../../parse/environ.js';
import type { ArenaReport, HeapEntry, MallocInfo, Vma } from '../../types.js';
import { hex, sum } from '../../units.js';
import type { AllocatorAnalysis, Analyser, Claim } from '../types.js';
import { arenaFigures } from './arena-figures.js';
import { glibcFindings } from './detect-findings.js';
import { MINSIZE, PAGE } from './layout.js';
import { parseMallocInfo } from './malloc-info.js';
import type { GlibcSection } from './section.js';

const DEFAULT_TRIM_THRESHOLD = 128 * 1024;

type SectionClaim = Claim & { arena: number | null; perm: string };

export const glibcAnalyser: Analyser<GlibcSection> = {
  name: 'glibc',
  analyse(section, input): AllocatorAnalysis {
    if (typeof section.mallocInfo !== 'string') throw new HeapgapError('BAD_INPUT', 'the capture holds no malloc_info output');
    const info = parseMallocInfo(section.mallocInfo, 'malloc_info');
    const claims: SectionClaim[] = section.claims.map((c) => ({ ...c, start: BigInt(c.start), end: BigInt(c.end), perm: permAt(input.vmas, BigInt(c.start)) }));
    const trimThreshold = tunable(input.env, 'trim_threshold', 'MALLOC_TRIM_THRESHOLD_') ?? DEFAULT_TRIM_THRESHOLD;
    const pad = tunable(input.env, 'top_pad', 'MALLOC_TOP_PAD_') ?? 0;
    const layout = section.layout;
    // malloc_info walks the same ring from main_arena, so ring position = nr. Other threads run during
    // the calls, so an arena's system_mem may have moved in between (seen on busy targets); only a
    // different arena count (a new arena shifts every nr) means the two readings do not line up.
    const memoryJoin = layout !== null && layout.arenas.length > 0 && layout.arenas.length === info.heaps.length;
    const notes: string[] = [];
    if (layout && layout.arenas.length > 0 && !memoryJoin) notes.push(`an arena was created between malloc_info and the arena ring read (${info.heaps.length} vs ${layout.arenas.length}); heaps were joined by size`);
    const measured = (nr: number) => section.trimmable?.find((t) => t.index === nr && t.complete)?.residentBytes;
    const inferred = memoryJoin ? null : inferHeaps(info.heaps, claims, section.heapMax);
    const figures = info.heaps.map(arenaFigures);
    const arenas = info.heaps.map((heap, i): ArenaReport => {
      const f = figures[i]!;
      const main = heap.nr === 0;
      const heaps = main ? mainHeaps(input.vmas) : memoryJoin ? threadHeaps(claims, heap.nr, layout!.arenas[heap.nr]?.heaps ?? [], section.heapMax) : (inferred!.get(heap.nr) ?? []);
      const rssBytes = sum(heaps.map((h) => h.rss));
      const heldFreeRssBytes = Math.max(0, rssBytes - f.inUseBytes);
      const topTrim = main && f.topBytes !== null ? Math.max(0, Math.floor((f.topBytes - pad - MINSIZE - 1) / PAGE) * PAGE) : 0;
      const predictedTrimBytes = measured(heap.nr) ?? Math.min(heldFreeRssBytes, f.trimmableBinBytes + topTrim);
      return {
        index: heap.nr,
        allocator: 'glibc',
        kind: main ? 'main' : 'thread',
        address: layout?.arenas[heap.nr]?.address ?? null,
        heaps,
        systemBytes: f.systemBytes,
        inUseBytes: f.inUseBytes,
        freeBytes: f.freeBytes,
        fastFreeBytes: f.fastFreeBytes,
        binFreeBytes: f.binFreeBytes + f.unsortedFreeBytes,
        topBytes: f.topBytes ?? 0,
        rssBytes,
        heldFreeRssBytes,
        // Free chunks sit in bins only because a live chunk lies above them; otherwise they would be top.
        pinnedTop: f.binFreeBytes + f.unsortedFreeBytes >= trimThreshold,
        predictedTrimBytes,
        purgeableBytes: predictedTrimBytes,
        join: main || memoryJoin ? 'memory' : 'inferred',
      };
    });
    const chunkClaims = claims.filter((c) => c.category === 'mmap-chunk');
    const mmapChunks = {
      count: info.totalMmap?.count ?? chunkClaims.length,
      bytes: info.totalMmap?.size ?? sum(chunkClaims.map((c) => Number(c.end - c.start))),
      rss: sum(chunkClaims.map((c) => c.rss)),
    };
    const findings = glibcFindings({ ...input, arenas, mmapChunks, trimThreshold, topInRest: figures.every((f) => f.topBytes !== null) });
    return { arenas, claims, stats: null, mmapChunks, findings, notes };
  },
};

/** The main arena's heap: [heap], the brk area (one heap however many VMAs brk and mprotect made). */
function mainHeaps(vmas: Vma[]): HeapEntry[] {
  const parts = vmas.filter((v) => v.pathname === '[heap]');
  if (parts.length === 0) return [];
  return [heapEntry(parts[0]!.start, parts[parts.length - 1]!.end, parts.map((v) => ({ start: v.start, end: v.end, rss: v.rss, perm: v.perms })))];
}

/**
 * A thread arena's heaps from its heap_info chain: each starts HEAP_MAX-aligned and spans HEAP_MAX
 * of address space, of which `mprotectSize` is read-write; its VMAs are the claims inside it.
 */
function threadHeaps(claims: SectionClaim[], nr: number, chain: { start: string; mprotectSize: number }[], heapMax: number): HeapEntry[] {
  const mine = claims.filter((c) => c.category === 'arena' && c.arena === nr);
  const starts = chain.length > 0 ? chain.map((h) => BigInt(h.start)) : [...new Set(mine.map((c) => c.start - (c.start % BigInt(heapMax))))];
  return starts.map((start) => {
    const end = start + BigInt(heapMax);
    const vmas = mine.filter((c) => c.start >= start && c.start < end).map((c) => ({ start: c.start, end: c.end, rss: c.rss, perm: c.perm }));
    return heapEntry(start, end, vmas);
  });
}

/** Permissions of the VMA holding addr (claims are parts of VMAs; smaps lists VMAs sorted). */
function permAt(vmas: Vma[], addr: bigint): string {
  let lo = 0;
  let hi = vmas.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (vmas[mid]!.end <= addr) lo = mid + 1;
    else hi = mid;
  }
  const vma = vmas[lo];
  return vma && vma.start <= addr ? vma.perms : '';
}

function heapEntry(start: bigint, end: bigint, vmas: { start: bigint; end: bigint; rss: number; perm: string }[]): HeapEntry {
  return {
    start: hex(start),
    end: hex(end),
    size: Number(end - start),
    mappedBytes: sum(vmas.filter((v) => v.perm.startsWith('rw')).map((v) => Number(v.end - v.start))),
    rss: sum(vmas.map((v) => v.rss)),
    vmas: vmas.map((v) => ({ start: hex(v.start), end: hex(v.end), rss: v.rss, perm: v.perm })),
  };
}

/**
 * Without the arena ring from memory, a single-heap thread arena is matched to a heap block whose
 * read-write length equals its `aspace mprotect` and whose Rss is nearest its `aspace total`.
 * That is a guess, so such arenas are marked inferred; arenas of several heaps stay unjoined.
 */
function inferHeaps(heaps: MallocInfo['heaps'], claims: SectionClaim[], heapMax: number): Map<number, HeapEntry[]> {
  const blocks = new Map<bigint, SectionClaim[]>();
  for (const c of claims.filter((x) => x.category === 'arena')) {
    const base = c.start - (c.start % BigInt(heapMax));
    blocks.set(base, [...(blocks.get(base) ?? []), c]);
  }
  const free = [...blocks.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const out = new Map<number, HeapEntry[]>();
  for (const heap of heaps.filter((h) => h.nr > 0 && (h.subheaps ?? 1) === 1 && h.aspaceMprotect !== null)) {
    // shrink_heap madvises without mprotect: the rw length stays, the Rss follows `aspace total`.
    const head = (base: bigint, parts: SectionClaim[]) => parts.find((p) => p.start === base && Number(p.end - p.start) === heap.aspaceMprotect);
    let at = -1;
    let best = Infinity;
    free.forEach(([base, parts], i) => {
      const h = head(base, parts);
      const distance = h ? Math.abs(h.rss - (heap.aspaceTotal ?? heap.systemCurrent)) : Infinity;
      if (distance < best) [at, best] = [i, distance];
    });
    if (at < 0) continue;
    const [base, parts] = free[at]!;
    out.set(heap.nr, [heapEntry(base, base + BigInt(heapMax), parts.map((c) => ({ start: c.start, end: c.end, rss: c.rss, perm: c.perm })))]);
    free.splice(at, 1);
  }
  return out;
}
