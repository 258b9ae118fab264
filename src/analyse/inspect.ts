import { HeapgapError } from '../errors.js';
import { parseMallocInfo } from '../parse/malloc-info.js';
import { parseSmaps } from '../parse/smaps.js';
import { parseStatus } from '../parse/status.js';
import { tunable } from '../parse/environ.js';
import type { Snapshot } from '../snapshot.js';
import type { ArenaReport, BreakdownRow, Category, InspectReport, MallocInfo, RssFigures, Vma } from '../types.js';
import { arenaFigures, sum } from './arena-figures.js';
import { buildRegions, isShmem } from './regions.js';
import type { Claim, Region } from './regions.js';
import { findings } from './findings.js';
import { glibcStats, thresholds, walkedArena } from '../allocators/glibc/heap-analysis.js';

const CATEGORIES: Category[] = ['arena', 'mmap-chunk', 'anon-other', 'stack', 'file', 'shmem', 'kernel'];
const PAGE = 4096;
const MINSIZE = 32;

/** One snapshot in, one report out. Pure: the same capture always renders the same report. */
export function analyse(snap: Snapshot, parsed?: { vmas: Vma[] }): InspectReport {
  // collect/ has parsed this very text already; parsing 40 MB twice is what made large targets slow.
  const vmas = parsed?.vmas ?? parseSmaps(snap.raw.smaps, 'smaps');
  const status = parseStatus(snap.raw.status, 'status');
  if (snap.raw.mallocInfo === null) throw new HeapgapError('BAD_INPUT', 'the capture holds no malloc_info output');
  const info = parseMallocInfo(snap.raw.mallocInfo, 'malloc_info');
  const claims: (Claim & { arena: number | null })[] = snap.claims.map((c) => ({ ...c, start: BigInt(c.start), end: BigInt(c.end) }));
  const regions = buildRegions(vmas, claims, snap.stackPointers.map((s) => BigInt(s)));
  const rss = rssFigures(vmas);
  const th = thresholds(snap.glibc, snap.env);
  const pad = tunable(snap.env, 'top_pad', 'MALLOC_TOP_PAD_') ?? 0;
  // malloc_info walks the same ring from main_arena, so ring position = nr. Other threads run during
  // the calls, so an arena's system_mem may have moved in between (seen on busy targets); only a
  // different arena count (a new arena shifts every nr) means the two readings do not line up.
  const memoryJoin = snap.layout !== null && snap.layout.arenas.length > 0 && snap.layout.arenas.length === info.heaps.length;
  const notes = [...snap.notes];
  if (snap.glibc?.paramsNote) notes.push(snap.glibc.paramsNote);
  for (const w of snap.glibc?.arenas ?? []) if (!w.complete) notes.push(`arena ${w.index}: heap walk incomplete after ${w.attempts} attempt(s) (${w.problem ?? '?'}); pinning and the trim prediction fall back to malloc_info`);
  if (snap.layout && snap.layout.arenas.length > 0 && !memoryJoin) notes.push(`an arena was created between malloc_info and the arena ring read (${info.heaps.length} vs ${snap.layout.arenas.length}); heaps were joined by size`);
  // Measured from the free lists and pagemap when the capture has it; else estimated from malloc_info.
  const measured = (nr: number) => {
    const m = snap.trimmable?.find((t) => t.index === nr && t.complete);
    return m ? m.residentBytes : undefined;
  };
  const inferred = memoryJoin ? null : inferHeaps(info.heaps, claims, snap.heapMax);
  const figures = info.heaps.map(arenaFigures);
  const arenas = info.heaps.map((heap, i): ArenaReport => {
    const f = figures[i]!;
    const main = heap.nr === 0;
    const heaps = main ? mainHeaps(vmas) : memoryJoin ? threadHeaps(claims, heap.nr) : (inferred!.get(heap.nr) ?? []);
    const rssBytes = sum(heaps.map((h) => h.rss));
    const heldFreeRssBytes = Math.max(0, rssBytes - f.inUseBytes);
    // The walk's indexes are ring positions: they are malloc_info's nr only when the ring lines up.
    const walked = main || memoryJoin ? walkedArena(snap.glibc, heap.nr, th.trimThreshold) : null;
    const topTrim = main && f.topBytes !== null ? Math.max(0, Math.floor((f.topBytes - pad - MINSIZE - 1) / PAGE) * PAGE) : 0;
    return {
      index: heap.nr,
      kind: main ? 'main' : 'thread',
      address: snap.layout?.arenas[heap.nr]?.address ?? null,
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
      predictedTrimBytes: measured(heap.nr) ?? Math.min(heldFreeRssBytes, f.trimmableBinBytes + topTrim),
      join: main || memoryJoin ? 'memory' : 'inferred',
      ...walked,
    };
  });
  const chunkRegions = regions.filter((r) => r.category === 'mmap-chunk');
  const mmapChunks = {
    count: info.totalMmap?.count ?? claims.filter((c) => c.category === 'mmap-chunk').length,
    bytes: info.totalMmap?.size ?? sum(chunkRegions.map((r) => r.size)),
    rss: sum(chunkRegions.map((r) => r.rss)),
  };
  const totals = {
    systemBytes: sum(arenas.map((a) => a.systemBytes)),
    inUseBytes: sum(arenas.map((a) => a.inUseBytes)),
    freeBytes: sum(arenas.map((a) => a.freeBytes)),
    rssBytes: sum(arenas.map((a) => a.rssBytes)),
    heldFreeRssBytes: sum(arenas.map((a) => a.heldFreeRssBytes)),
    predictedTrimBytes: sum(arenas.map((a) => a.predictedTrimBytes)),
  };
  const params = snap.glibc?.params;
  const configured = params ? (params.arenaMax > 0 ? params.arenaMax : null) : tunable(snap.env, 'arena_max', 'MALLOC_ARENA_MAX');
  const arenaMax = { arenas: arenas.length, threads: status.threads, cpus: snap.cpus, defaultLimit: 8 * snap.cpus, configured };
  const report: InspectReport = {
    schema: 'heapgap.inspect/1',
    target: { pid: snap.pid, comm: snap.comm, threads: status.threads, cpus: snap.cpus, allocator: snap.allocator, glibcVersion: snap.glibcVersion, env: snap.env },
    rss,
    breakdown: breakdown(regions),
    arenas,
    mmapChunks,
    totals,
    arenaMax,
    findings: [],
    pause: { stoppedMs: snap.pause?.stoppedMs ?? null, callMs: snap.pause?.callMs ?? null, attachMs: snap.pause?.attachMs ?? null },
    notes,
    takenAt: snap.takenAt,
    ...(snap.glibc ? { allocatorStats: { glibc: glibcStats(snap.glibc) } } : {}),
  };
  report.findings = findings(report, { thresholds: th, topInRest: figures.every((f) => f.topBytes !== null) });
  return report;
}

/** Rss figures of a whole smaps: shared-memory VMAs are shmem, anonymous pages anon, the rest file. */
export function rssFigures(vmas: Vma[]): RssFigures {
  const total = sum(vmas.map((v) => v.rss));
  const anon = sum(vmas.map((v) => v.anonymous));
  const shmem = sum(vmas.filter(isShmem).map((v) => v.rss));
  return { total, anon, file: Math.max(0, total - anon - shmem), shmem, swap: sum(vmas.map((v) => v.swap)), pss: sum(vmas.map((v) => v.pss)) };
}

export function breakdown(regions: Region[]): BreakdownRow[] {
  return CATEGORIES.map((category) => {
    const mine = regions.filter((r) => r.category === category);
    return { category, rss: sum(mine.map((r) => r.rss)), size: sum(mine.map((r) => r.size)), vmas: new Set(mine.map((r) => r.vma)).size };
  }).filter((row) => row.vmas > 0 || row.category === 'arena');
}

function mainHeaps(vmas: Vma[]): ArenaReport['heaps'] {
  return vmas.filter((v) => v.pathname === '[heap]').map((v) => ({ start: hex(v.start), end: hex(v.end), size: v.size, rss: v.rss }));
}

function threadHeaps(claims: (Claim & { arena: number | null })[], nr: number): ArenaReport['heaps'] {
  return claims.filter((c) => c.category === 'arena' && c.arena === nr).map(heapRange);
}

const heapRange = (c: Claim): ArenaReport['heaps'][number] => ({ start: hex(c.start), end: hex(c.end), size: Number(c.end - c.start), rss: c.rss });

/**
 * Without the arena ring from memory, a single-heap thread arena is matched to a heap block whose
 * read-write length equals its `aspace mprotect` and whose Rss is nearest its `aspace total`.
 * That is a guess, so such arenas are marked inferred; arenas of several heaps stay unjoined.
 */
function inferHeaps(heaps: MallocInfo['heaps'], claims: Claim[], heapMax: number): Map<number, ArenaReport['heaps']> {
  const blocks = new Map<bigint, Claim[]>();
  for (const c of claims.filter((x) => x.category === 'arena')) {
    const base = c.start - (c.start % BigInt(heapMax));
    blocks.set(base, [...(blocks.get(base) ?? []), c]);
  }
  const free = [...blocks.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const out = new Map<number, ArenaReport['heaps']>();
  for (const heap of heaps.filter((h) => h.nr > 0 && (h.subheaps ?? 1) === 1 && h.aspaceMprotect !== null)) {
    // shrink_heap madvises without mprotect: the rw length stays, the Rss follows `aspace total`.
    const head = (base: bigint, parts: Claim[]) => parts.find((p) => p.start === base && Number(p.end - p.start) === heap.aspaceMprotect);
    let at = -1;
    let best = Infinity;
    free.forEach(([base, parts], i) => {
      const h = head(base, parts);
      const distance = h ? Math.abs(h.rss - (heap.aspaceTotal ?? heap.systemCurrent)) : Infinity;
      if (distance < best) [at, best] = [i, distance];
    });
    if (at < 0) continue;
    out.set(heap.nr, free[at]![1].map(heapRange));
    free.splice(at, 1);
  }
  return out;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;
