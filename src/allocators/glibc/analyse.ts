/** glibc malloc, analysed: malloc_info's arenas joined to their heaps, the gap, trim prediction, advice. */
import { HeapgapError } from '../../errors.js';
import { tunable } from '../../parse/environ.js';
import { finding } from '../../analyse/findings/index.js';
import type { ArenaReport, HeapEntry, MallocInfo } from '../../types.js';
import { sum } from '../../units.js';
import type { AllocatorAnalysis, Analyser } from '../types.js';
import { arenaFigures } from './arena-figures.js';
import { glibcFindings } from './detect-findings.js';
import { glibcStats, thresholds, walkedArena } from './heap-analysis.js';
import { heapEntry, mainHeaps, permAt, threadHeaps } from './heaps.js';
import type { SectionClaim } from './heaps.js';
import { analyseUncalled } from './uncalled.js';
import { MINSIZE, PAGE } from './layout.js';
import { parseMallocInfo } from './malloc-info.js';
import type { GlibcSection } from './section.js';


export const glibcAnalyser: Analyser<GlibcSection> = {
  name: 'glibc',
  analyse(section, input): AllocatorAnalysis {
    if (section.mallocInfo === null && section.heapCheck) return analyseUncalled(section, section.heapCheck, input);
    if (typeof section.mallocInfo !== 'string') throw new HeapgapError('BAD_INPUT', 'the capture holds no malloc_info output');
    const info = parseMallocInfo(section.mallocInfo, 'malloc_info');
    const claims: SectionClaim[] = section.claims.map((c) => ({ ...c, start: BigInt(c.start), end: BigInt(c.end), perm: permAt(input.vmas, BigInt(c.start)) }));
    // The real thresholds when mp_ was read; else the environment's, else glibc's defaults.
    const th = thresholds(section.internals, input.env);
    const pad = tunable(input.env, 'top_pad', 'MALLOC_TOP_PAD_') ?? 0;
    const layout = section.layout;
    // malloc_info walks the same ring from main_arena, so ring position = nr. Other threads run during
    // the calls, so an arena's system_mem may have moved in between (seen on busy targets); only a
    // different arena count (a new arena shifts every nr) means the two readings do not line up.
    const memoryJoin = layout !== null && layout.arenas.length > 0 && layout.arenas.length === info.heaps.length;
    const notes: string[] = [];
    if (section.internals?.paramsNote) notes.push(section.internals.paramsNote);
    for (const w of section.internals?.arenas ?? []) if (!w.complete) notes.push(`arena ${w.index}: heap walk incomplete after ${w.attempts} attempt(s) (${w.problem ?? '?'}); pinning and the trim prediction fall back to malloc_info`);
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
      // The walk's indexes are ring positions: they are malloc_info's nr only when the ring lines up.
      const walked = main || memoryJoin ? walkedArena(section.internals, heap.nr, th.trimThreshold) : null;
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
        // Without a walk: free chunks sit in bins only because a live chunk lies above them.
        pinnedTop: walked?.pinnedTop ?? f.binFreeBytes + f.unsortedFreeBytes >= th.trimThreshold,
        predictedTrimBytes,
        purgeableBytes: predictedTrimBytes,
        join: main || memoryJoin ? 'memory' : 'inferred',
        ...walked,
      };
    });
    const chunkClaims = claims.filter((c) => c.category === 'mmap-chunk');
    const mmapChunks = {
      count: info.totalMmap?.count ?? chunkClaims.length,
      bytes: info.totalMmap?.size ?? sum(chunkClaims.map((c) => Number(c.end - c.start))),
      rss: sum(chunkClaims.map((c) => c.rss)),
    };
    const params = section.internals?.params ?? null;
    const findings = glibcFindings({ ...input, arenas, mmapChunks, trimThreshold: th.trimThreshold, thresholds: th, arenaMax: params ? params.arenaMax : null, topInRest: figures.every((f) => f.topBytes !== null) });
    if (section.heapCheck && !section.heapCheck.complete) findings.push(finding('heap-check-incomplete', 'info', null, { steps: section.heapCheck.steps ?? 0, ms: section.heapCheck.ms }));
    const hc = section.heapCheck;
    if (hc?.coveredBefore && hc.before) notes.push(`free-list check: ${hc.before.ms.toFixed(0)} ms walking the lists${hc.before.chunks !== undefined ? ` (${hc.before.chunks} free chunks)` : ''} before attach, while the process ran; ${hc.ms.toFixed(1)} ms walking them again in the stop, cut there by its time budget (HEAPGAP_HEAP_CHECK_STOP_MS=0 walks them all in the stop)`);
    const unverified = hc?.unverified ?? [];
    if (unverified.length) notes.push(`arena ${unverified.join(', ')}: a stopped thread was changing ${unverified.length === 1 ? 'it' : 'them'} when heapgap checked the free lists, so ${unverified.length === 1 ? 'its lists were' : 'their lists were'} not verified before malloc_info (which waited for the lock)`);
    return { arenas, claims, stats: glibcStats(section.internals), mmapChunks, findings, notes };
  },
};

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
