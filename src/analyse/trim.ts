/** What a trim did (or, on a dry run, would do), arena by arena, from smaps read before and after. */
import { trimFindings } from '../allocators/glibc/detect-findings.js';
import { SCHEMAS } from '../contract.js';
import { parseSmaps } from '../parse/smaps.js';
import type { InspectReport, TrimReport, TrimSide, Vma } from '../types.js';
import { sum } from '../units.js';
import { rssFigures } from './inspect.js';

export function analyseTrim(inspect: InspectReport, pad: number, after: { smapsAfter: string; returned: number | null } | null): TrimReport {
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
    releasedBytes: afterSide ? before.rss.total - afterSide.rss.total : null,
    predictedBytes: inspect.totals.predictedTrimBytes,
    arenas,
    perArena: inspect.arenas.map((a, i) => ({ index: a.index, allocator: a.allocator ?? 'glibc', rssBefore: a.rssBytes, rssAfter: arenas[i]!.afterRss, releasedBytes: arenas[i]!.releasedBytes, predictedBytes: a.predictedTrimBytes })),
    settled: null,
    findings: inspect.target.allocator === 'glibc' ? trimFindings(inspect.arenas) : [],
    pause: inspect.pause,
  };
}

/** Rss of the VMAs that start inside an arena's heaps (brk may have moved the [heap] end). */
function arenaRss(vmas: Vma[], heaps: { start: string; end: string }[]): number {
  const ranges = heaps.map((h) => [BigInt(h.start), BigInt(h.end)] as const);
  return sum(vmas.filter((v) => ranges.some(([s, e]) => v.start >= s && v.start < e)).map((v) => v.rss));
}
