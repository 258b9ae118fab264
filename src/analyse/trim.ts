/** What a trim did (or, on a dry run, would do), arena by arena, from smaps read before and after. */
import { trimFindings } from '../allocators/glibc/detect-findings.js';
import { SCHEMAS } from '../contract.js';
import { parseRollup } from '../parse/rollup.js';
import { parseSmaps } from '../parse/smaps.js';
import { parseStatus } from '../parse/status.js';
import type { TrimRaw } from '../snapshot.js';
import type { InspectReport, TrimReport, TrimSide, Vma } from '../types.js';
import { sum } from '../units.js';
import { rssFigures } from './inspect.js';

export function analyseTrim(inspect: InspectReport, pad: number, after: Omit<TrimRaw, 'pad'> | null): TrimReport {
  const side = (vmas: Vma[]): TrimSide => ({ rss: rssFigures(vmas), arenas: inspect.arenas.map((a) => ({ index: a.index, rssBytes: arenaRss(vmas, a.heaps) })) });
  const before: TrimSide = { rss: inspect.rss, arenas: inspect.arenas.map((a) => ({ index: a.index, rssBytes: a.rssBytes })) };
  const afterSide = after ? side(parseSmaps(after.smapsAfter, 'smaps after the release call')) : null;
  const arenas = inspect.arenas.map((a, i) => {
    const afterRss = afterSide ? afterSide.arenas[i]!.rssBytes : null;
    return { index: a.index, kind: a.kind, beforeRss: a.rssBytes, afterRss, releasedBytes: afterRss === null ? null : a.rssBytes - afterRss, predictedBytes: a.predictedTrimBytes };
  });
  return {
    schema: SCHEMAS.trim,
    target: inspect.target,
    allocator: inspect.target.allocator,
    pad,
    dryRun: after === null,
    returned: after === null || after.returned === null ? null : after.returned === 0 ? 0 : 1,
    before,
    after: afterSide,
    releasedBytes: after ? callEffect(after) ?? (afterSide ? before.rss.total - afterSide.rss.total : null) : null,
    predictedBytes: inspect.totals.predictedTrimBytes,
    arenas,
    perArena: inspect.arenas.map((a, i) => ({ index: a.index, allocator: a.allocator ?? 'glibc', rssBefore: a.rssBytes, rssAfter: arenas[i]!.afterRss, releasedBytes: arenas[i]!.releasedBytes, predictedBytes: a.predictedTrimBytes })),
    settled: null,
    findings: inspect.target.allocator === 'glibc' ? trimFindings(inspect.arenas) : [],
    pause: inspect.pause,
  };
}

/**
 * The release call's own effect where the stop measured it: the process's Rss right before and
 * right after the call (status's VmRSS, from the kernel's counters; smaps_rollup in older captures).
 */
function callEffect(t: Omit<TrimRaw, 'pad'>): number | null {
  if (t.statusBefore && t.statusAfter) {
    const [b, a] = [parseStatus(t.statusBefore, 'status before the release call').vmRss, parseStatus(t.statusAfter, 'status after the release call').vmRss];
    return b === null || a === null ? null : b - a;
  }
  if (t.rollupBefore && t.rollupAfter) return parseRollup(t.rollupBefore).rss - parseRollup(t.rollupAfter).rss;
  return null;
}

/** Rss of the VMAs that start inside an arena's heaps (brk may have moved the [heap] end). */
function arenaRss(vmas: Vma[], heaps: { start: string; end: string }[]): number {
  const ranges = heaps.map((h) => [BigInt(h.start), BigInt(h.end)] as const);
  return sum(vmas.filter((v) => ranges.some(([s, e]) => v.start >= s && v.start < e)).map((v) => v.rss));
}

/** trim --settle: Rss a while after the release, with what THP refilled and what is only lazily freed. */
export function settledFigures(afterMs: number, vmas: Vma[], rollup: string): NonNullable<TrimReport['settled']> {
  const r = parseRollup(rollup, 'smaps_rollup after --settle');
  return { afterMs, rss: rssFigures(vmas), anonHugePagesBytes: r.anonHugePages, lazyFreeBytes: r.lazyFree };
}
