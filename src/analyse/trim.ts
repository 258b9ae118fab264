import type { InspectReport, TrimReport, TrimSide, Vma } from '../types.js';
import { parseSmaps } from '../parse/smaps.js';
import { rssFigures } from './inspect.js';
import { FINDINGS } from './findings.js';
import type { FindingKind } from './findings.js';
import { sum } from './arena-figures.js';

/** What a trim did (or, on a dry run, would do), arena by arena, from smaps read before and after. */
export function analyseTrim(inspect: InspectReport, pad: number, after: { smaps: string; returned: number } | null): TrimReport {
  const side = (vmas: Vma[]): TrimSide => ({ rss: rssFigures(vmas), arenas: inspect.arenas.map((a) => ({ index: a.index, rssBytes: arenaRss(vmas, a.heaps) })) });
  const before: TrimSide = { rss: inspect.rss, arenas: inspect.arenas.map((a) => ({ index: a.index, rssBytes: a.rssBytes })) };
  const afterSide = after ? side(parseSmaps(after.smaps, 'smaps after malloc_trim')) : null;
  const arenas = inspect.arenas.map((a, i) => {
    const afterRss = afterSide ? afterSide.arenas[i]!.rssBytes : null;
    return { index: a.index, kind: a.kind, beforeRss: a.rssBytes, afterRss, releasedBytes: afterRss === null ? null : a.rssBytes - afterRss, predictedBytes: a.predictedTrimBytes };
  });
  const findings = [];
  const tops = sum(inspect.arenas.filter((a) => a.kind === 'thread').map((a) => Math.min(a.topBytes, a.heldFreeRssBytes)));
  if (tops >= 1024 * 1024) findings.push(f('trim-thread-tops', 'info', tops, `${mb(tops)} of free thread-arena top chunks stay resident whatever malloc_trim does.`));
  const main = inspect.arenas.find((a) => a.kind === 'main');
  // With a heap walk (read after the trim), the chunk brk cannot move below; else malloc_info's estimate.
  const pin = main?.pinning?.[0];
  const below = main?.pinning ? (pin ? main.pinnedFreeBytes ?? 0 : 0) : main?.pinnedTop ? main.binFreeBytes : 0;
  if (below >= 64 * 1024) findings.push(f('trim-brk-pinned', 'info', below, `the main heap has ${mb(below)} free below a live chunk${pin ? ` (${pin.address}, ${pin.size} bytes)` : ''}: trim releases those pages but the [heap] mapping keeps its size.`));
  findings.push(f('trim-tcache', 'info', null, 'chunks cached in tcache are counted as in use and are not released by malloc_trim.'));
  return {
    schema: 'heapgap.trim/1',
    target: inspect.target,
    pad,
    dryRun: after === null,
    returned: after === null ? null : after.returned === 0 ? 0 : 1,
    before,
    after: afterSide,
    releasedBytes: afterSide ? before.rss.total - afterSide.rss.total : null,
    predictedBytes: inspect.totals.predictedTrimBytes,
    arenas,
    findings,
    pause: inspect.pause,
  };
}

/** Rss of the VMAs that start inside an arena's heaps (brk may have moved the [heap] end). */
function arenaRss(vmas: Vma[], heaps: { start: string; end: string }[]): number {
  const ranges = heaps.map((h) => [BigInt(h.start), BigInt(h.end)] as const);
  return sum(vmas.filter((v) => ranges.some(([s, e]) => v.start >= s && v.start < e)).map((v) => v.rss));
}

function f(kind: FindingKind, severity: 'info' | 'warn', bytes: number | null, message: string) {
  return { kind, severity, bytes, message, hint: FINDINGS[kind].hint };
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
