/** What a trim did (or, on a dry run, would do), arena by arena, from smaps read before and after. */
import { trimFindings } from '../allocators/glibc/detect-findings.js';
import { releaseFigures } from '../allocators/release.js';
import type { ReleaseFigures } from '../allocators/release.js';
import type { AllocatorName } from '../contract.js';
import { SCHEMAS } from '../contract.js';
import { parseSmaps } from '../parse/smaps.js';
import type { ArenaEntry, ArenaReport, InspectReport, RssFigures, TrimReport, TrimSide, Vma } from '../types.js';
import { sum } from '../units.js';
import { rssFigures } from './inspect.js';
import { finding } from './findings/index.js';
import { purgeEnvLine } from '../allocators/mimalloc/analyse.js';

/** mimalloc's version number (209) from its stats' "2.0.9". */
const versionOf = (r: InspectReport): number | null => {
  const v = r.allocatorStats?.mimalloc?.version;
  const m = typeof v === 'string' ? /^(\d+)\.(\d+)\.(\d+)$/.exec(v) : null;
  return m ? Number(m[1]) * 100 + Number(m[2]) * 10 + Number(m[3]) : null;
};

/** A capture's trim: smaps right after the release call, and what the call itself returned. */
export interface TrimAfter {
  smapsAfter: string;
  returned: number | null;
  /** Whose release call it was (absent in captures from before other allocators: glibc). */
  allocator?: AllocatorName;
  /** What the release call itself said (stop.py's release() result). */
  release?: unknown;
}

export interface Settled {
  afterMs: number;
  rss: RssFigures;
  anonHugePagesBytes: number;
  lazyFreeBytes: number;
}

const isGlibc = (a: ArenaEntry): a is ArenaReport => (a.allocator ?? 'glibc') === 'glibc';

export function analyseTrim(inspect: InspectReport, pad: number, after: TrimAfter | null, settled: Settled | null = null): TrimReport {
  const release: ReleaseFigures | null = after?.allocator && after.allocator !== 'glibc' && after.release ? releaseFigures(after.allocator, after.release) : null;
  const allocator = release?.allocator ?? inspect.target.allocator;
  const own = inspect.arenas.filter((a) => (a.allocator ?? 'glibc') === allocator);
  const jeArena = (i: number) => release?.perArena?.find((x) => x.index === i) ?? null;
  const afterVmas = after ? parseSmaps(after.smapsAfter, 'smaps after the release call') : null;
  // jemalloc's arenas have no address ranges: their Rss before and after is jemalloc's own count.
  const rssOf = (a: ArenaEntry, vmas: Vma[] | null, when: 'before' | 'after'): number | null =>
    a.join === 'allocator' ? (when === 'before' ? jeArena(a.index)?.rssBefore ?? a.rssBytes : jeArena(a.index)?.rssAfter ?? null) : when === 'before' ? a.rssBytes : vmas ? (a.allocator === 'mimalloc' ? overlapRss(vmas, a.heaps) : arenaRss(vmas, a.heaps)) : null;
  const before: TrimSide = { rss: inspect.rss, arenas: own.map((a) => ({ index: a.index, rssBytes: rssOf(a, null, 'before') ?? 0 })) };
  const afterSide: TrimSide | null = afterVmas ? { rss: rssFigures(afterVmas), arenas: own.map((a) => ({ index: a.index, rssBytes: rssOf(a, afterVmas, 'after') ?? 0 })) } : null;
  const rows = own.map((a) => {
    const rssBefore = rssOf(a, null, 'before');
    const rssAfter = afterVmas ? rssOf(a, afterVmas, 'after') : null;
    const predicted = a.join === 'allocator' ? jeArena(a.index)?.predictedBytes ?? a.predictedTrimBytes : a.predictedTrimBytes;
    return { a, rssBefore, rssAfter, releasedBytes: rssBefore !== null && rssAfter !== null ? rssBefore - rssAfter : null, predicted };
  });
  const ownPredicted = own.map((a) => a.predictedTrimBytes).filter((x): x is number => x !== null);
  const predictedBytes = release ? release.predictedBytes : own.length > 0 && ownPredicted.length === 0 ? null : sum(ownPredicted);
  return {
    schema: SCHEMAS.trim,
    target: inspect.target,
    allocator,
    ...(release ? { call: release.call } : {}),
    pad,
    dryRun: after === null,
    // malloc_trim's 0/1; other allocators' release calls return nothing comparable.
    returned: after === null || after.returned === null || allocator !== 'glibc' ? null : after.returned === 0 ? 0 : 1,
    before,
    after: afterSide,
    releasedBytes: afterSide ? before.rss.total - afterSide.rss.total : null,
    predictedBytes,
    arenas: rows.map((r) => ({ index: r.a.index, kind: r.a.kind, beforeRss: r.rssBefore, afterRss: r.rssAfter, releasedBytes: r.releasedBytes, predictedBytes: r.predicted })),
    perArena: rows.map((r) => ({ index: r.a.index, allocator, rssBefore: r.rssBefore, rssAfter: r.rssAfter, releasedBytes: r.releasedBytes, predictedBytes: r.predicted })),
    settled,
    findings: allocator === 'glibc' ? trimFindings(inspect.arenas.filter(isGlibc))
      : allocator === 'mimalloc' && release && after ? [finding('mimalloc-collect-one-thread', 'info', null, { thread: release.thread, pid: inspect.target.pid, threads: inspect.target.threads, envLine: purgeEnvLine(versionOf(inspect)) })]
      : [],
    pause: inspect.pause,
  };
}

/** Settled figures from smaps and smaps_rollup read --settle after the call. */
export function settledFigures(raw: { afterMs: number; smaps: string; rollup: string }): Settled {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(raw.rollup)?.[1] ?? 0) * 1024;
  const vmas = parseSmaps(raw.smaps, 'smaps after --settle');
  return { afterMs: raw.afterMs, rss: rssFigures(vmas), anonHugePagesBytes: kb('AnonHugePages'), lazyFreeBytes: kb('LazyFree') };
}

/** Rss of the VMAs that start inside an arena's heaps (brk may have moved the [heap] end). */
function arenaRss(vmas: Vma[], heaps: { start: string; end: string }[]): number {
  const ranges = heaps.map((h) => [BigInt(h.start), BigInt(h.end)] as const);
  return sum(vmas.filter((v) => ranges.some(([s, e]) => v.start >= s && v.start < e)).map((v) => v.rss));
}

/**
 * mimalloc's segments cover parts of VMAs: each VMA's Rss after the call counts in proportion to
 * its overlap with them (pagemap is not read after the call).
 */
function overlapRss(vmas: Vma[], heaps: { start: string; end: string }[]): number {
  let rss = 0;
  for (const h of heaps) {
    const [s, e] = [BigInt(h.start), BigInt(h.end)];
    for (const v of vmas) {
      const lo = v.start > s ? v.start : s;
      const hi = v.end < e ? v.end : e;
      if (hi > lo) rss += Math.round((v.rss * Number(hi - lo)) / Math.max(1, v.size));
    }
  }
  return rss;
}
