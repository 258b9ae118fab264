import type { ArenaEntry, DiffReport, InspectReport } from '../types.js';
import { findingKey } from './findings/index.js';

/** What changed between two inspect reports. Arenas are matched by address: their numbers shift. */
export function diffReports(before: InspectReport, after: InspectReport): DiffReport {
  // Other allocators' arenas (jemalloc's, by index) are keyed apart from glibc's.
  const key = (a: ArenaEntry) => ((a.allocator ?? 'glibc') !== 'glibc' ? `${a.allocator}#${a.index}` : a.kind === 'main' ? 'main' : a.address ?? `#${a.index}`);
  const keys = [...new Set([...before.arenas.map(key), ...after.arenas.map(key)])];
  const arenas = keys.map((k) => {
    const b = before.arenas.find((a) => key(a) === k) ?? null;
    const a = after.arenas.find((x) => key(x) === k) ?? null;
    return {
      key: k,
      index: a?.index ?? b?.index ?? null,
      before: b,
      after: a,
      rssDelta: (a?.rssBytes ?? 0) - (b?.rssBytes ?? 0),
      inUseDelta: (a?.inUseBytes ?? 0) - (b?.inUseBytes ?? 0),
      heldFreeDelta: (a?.heldFreeRssBytes ?? 0) - (b?.heldFreeRssBytes ?? 0),
    };
  });
  const categories = [...new Set([...before.breakdown.map((r) => r.category), ...after.breakdown.map((r) => r.category)])];
  const breakdown = categories.map((category) => {
    const b = before.breakdown.find((r) => r.category === category)?.rss ?? 0;
    const a = after.breakdown.find((r) => r.category === category)?.rss ?? 0;
    return { category, before: b, after: a, delta: a - b };
  });
  // A finding is "the same" when its kind and its subject (e.g. which arenas) match; figures may move.
  const fkey = findingKey;
  const beforeKeys = new Set(before.findings.map(fkey));
  const afterKeys = new Set(after.findings.map(fkey));
  return {
    schema: 'heapgap.diff/1',
    target: after.target,
    before: { pid: before.target.pid, takenAt: before.takenAt },
    after: { pid: after.target.pid, takenAt: after.takenAt },
    rss: { before: before.rss.total, after: after.rss.total, delta: after.rss.total - before.rss.total },
    breakdown,
    arenas,
    findings: { appeared: after.findings.filter((f) => !beforeKeys.has(fkey(f))), resolved: before.findings.filter((f) => !afterKeys.has(fkey(f))) },
  };
}
