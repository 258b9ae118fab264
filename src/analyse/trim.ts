/** What a trim did (or, on a dry run, would do), arena by arena, from smaps read before and after. */
import { trimFindings } from '../allocators/glibc/detect-findings.js';
import { purgeEnvLine } from '../allocators/mimalloc/analyse.js';
import { releaseFigures } from '../allocators/release.js';
import type { ReleaseFigures } from '../allocators/release.js';
import { SCHEMAS } from '../contract.js';
import { parseRollup } from '../parse/rollup.js';
import { parseSmaps } from '../parse/smaps.js';
import { parseStatus } from '../parse/status.js';
import type { TrimRaw } from '../snapshot.js';
import type { ArenaEntry, ArenaReport, InspectReport, TrimReport, TrimSide, Vma } from '../types.js';
import { sum } from '../units.js';
import { finding } from './findings/index.js';
import { rssFigures } from './inspect.js';

/** A capture's trim (Snapshot.trim without its pad). */
export type TrimAfter = Omit<TrimRaw, 'pad'>;

const isGlibc = (a: ArenaEntry): a is ArenaReport => (a.allocator ?? 'glibc') === 'glibc';

/** mimalloc's version number (209) from its stats' "2.0.9". */
function mimallocVersion(r: InspectReport): number | null {
  const v = r.allocatorStats?.mimalloc?.version;
  const m = typeof v === 'string' ? /^(\d+)\.(\d+)\.(\d+)$/.exec(v) : null;
  return m ? Number(m[1]) * 100 + Number(m[2]) * 10 + Number(m[3]) : null;
}

export function analyseTrim(inspect: InspectReport, pad: number, after: TrimAfter | null): TrimReport {
  const allocator = after?.allocator ?? inspect.target.allocator;
  const release: ReleaseFigures | null = after && allocator !== 'glibc' && after.release ? releaseFigures(allocator, after.release) : null;
  const own = inspect.arenas.filter((a) => (a.allocator ?? 'glibc') === allocator);
  const afterVmas = after ? parseSmaps(after.smapsAfter, 'smaps after the release call') : null;
  // jemalloc's arenas have no address ranges: their Rss before and after is jemalloc's own count.
  const counted = (a: ArenaEntry) => release?.perArena?.find((x) => x.index === a.index) ?? null;
  const rssBefore = (a: ArenaEntry) => (a.join === 'allocator' ? counted(a)?.rssBefore ?? a.rssBytes : a.rssBytes);
  const rssAfter = (a: ArenaEntry, vmas: Vma[]) =>
    a.join === 'allocator' ? counted(a)?.rssAfter ?? null : a.allocator === 'mimalloc' ? overlapRss(vmas, a.heaps) : arenaRss(vmas, a.heaps);
  const rows = own.map((a) => {
    const b = rssBefore(a);
    const x = afterVmas ? rssAfter(a, afterVmas) : null;
    const predicted = a.join === 'allocator' ? counted(a)?.predictedBytes ?? a.predictedTrimBytes : a.predictedTrimBytes;
    return { a, b, x, released: b !== null && x !== null ? b - x : null, predicted };
  });
  const before: TrimSide = { rss: inspect.rss, arenas: rows.map((r) => ({ index: r.a.index, rssBytes: r.b ?? 0 })) };
  const afterSide: TrimSide | null = afterVmas ? { rss: rssFigures(afterVmas), arenas: rows.map((r) => ({ index: r.a.index, rssBytes: r.x ?? 0 })) } : null;
  const ownPredicted = rows.map((r) => r.predicted).filter((x): x is number => x !== null);
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
    releasedBytes: after ? callEffect(after) ?? (afterSide ? before.rss.total - afterSide.rss.total : null) : null,
    // Other allocators: what they held as returnable at the moment of the call, by their own count.
    predictedBytes: release ? release.predictedBytes : rows.length > 0 && ownPredicted.length === 0 ? null : sum(ownPredicted),
    arenas: rows.map((r) => ({ index: r.a.index, kind: r.a.kind, beforeRss: r.b, afterRss: r.x, releasedBytes: r.released, predictedBytes: r.predicted })),
    perArena: rows.map((r) => ({ index: r.a.index, allocator, rssBefore: r.b, rssAfter: r.x, releasedBytes: r.released, predictedBytes: r.predicted })),
    settled: null,
    findings: allocator === 'glibc' ? trimFindings(inspect.arenas.filter(isGlibc))
      : allocator === 'mimalloc' && release ? [finding('mimalloc-collect-one-thread', 'info', null, { thread: release.thread, pid: inspect.target.pid, threads: inspect.target.threads, envLine: purgeEnvLine(mimallocVersion(inspect)) })]
      : [],
    pause: inspect.pause,
  };
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

/** trim --settle: Rss a while after the release, with what THP refilled and what is only lazily freed. */
/**
 * The release call's own effect where the stop measured it: the process's Rss right before and
 * right after the call (status's VmRSS, from the kernel's counters; smaps_rollup in older captures).
 */
function callEffect(t: TrimAfter): number | null {
  if (t.statusBefore && t.statusAfter) {
    const [b, a] = [parseStatus(t.statusBefore, 'status before the release call').vmRss, parseStatus(t.statusAfter, 'status after the release call').vmRss];
    return b === null || a === null ? null : b - a;
  }
  if (t.rollupBefore && t.rollupAfter) return parseRollup(t.rollupBefore).rss - parseRollup(t.rollupAfter).rss;
  return null;
}

export function settledFigures(afterMs: number, vmas: Vma[], rollup: string): NonNullable<TrimReport['settled']> {
  const r = parseRollup(rollup, 'smaps_rollup after --settle');
  return { afterMs, rss: rssFigures(vmas), anonHugePagesBytes: r.anonHugePages, lazyFreeBytes: r.lazyFree };
}
