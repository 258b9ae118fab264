import type { Category, InspectReport, RssSample } from '../types.js';
import { rssFigures, breakdown } from './inspect.js';
import { buildRegions } from './regions.js';
import { sum } from '../units.js';

export interface WatchArena {
  /** "main", or the arena's malloc_state address: arena numbers shift, addresses do not. */
  key: string;
  index: number | null;
  rssBytes: number;
  /** From the latest malloc_info (null before the first one): stale between refreshes. */
  inUseBytes: number | null;
  heldFreeRssBytes: number | null;
}

export interface WatchTick {
  schema: 'heapgap.watch/1';
  pid: number;
  at: string;
  elapsedMs: number;
  rss: { total: number; anon: number; file: number; shmem: number; swap: number; pss: number };
  layers: Partial<Record<Category, number>>;
  arenas: WatchArena[];
  /** True on the ticks where malloc_info was called (the target was stopped). */
  mallocInfo: boolean;
  stoppedMs: number | null;
}

export interface WatchSummary {
  schema: 'heapgap.watch-summary/1';
  pid: number;
  ticks: number;
  durationMs: number;
  rss: { first: number; last: number; min: number; max: number };
  arenas: { key: string; index: number | null; first: number; last: number; max: number }[];
}

/** One tick from a no-stop sample, with in-use figures from the latest inspect (if any). */
export function watchTick(pid: number, sample: RssSample, started: number, latest: InspectReport | null, fresh: boolean): WatchTick {
  const claims = sample.claims.map((c) => ({ ...c, start: BigInt(c.start), end: BigInt(c.end) }));
  const regions = buildRegions(sample.vmas, claims, sample.stackPointers);
  const rssOf = (ranges: { start: bigint; end: bigint }[]) => sum(sample.vmas.filter((v) => ranges.some((r) => v.start >= r.start && v.start < r.end)).map((v) => v.rss));
  const main = sample.vmas.filter((v) => v.pathname === '[heap]');
  const arenas: WatchArena[] = [
    { key: 'main', rss: sum(main.map((v) => v.rss)) },
    ...[...sample.owners].map(([key, ranges]) => ({ key, rss: rssOf(ranges) })),
  ].map(({ key, rss }) => {
    const known = latest?.arenas.find((a) => (key === 'main' ? a.kind === 'main' : a.address === key)) ?? null;
    return {
      key,
      index: known?.index ?? null,
      rssBytes: rss,
      inUseBytes: known?.inUseBytes ?? null,
      heldFreeRssBytes: known && known.inUseBytes !== null ? Math.max(0, rss - known.inUseBytes) : null,
    };
  });
  const layers: Partial<Record<Category, number>> = {};
  for (const row of breakdown(regions)) layers[row.category] = row.rss;
  return {
    schema: 'heapgap.watch/1',
    pid,
    at: new Date(sample.takenAt).toISOString(),
    elapsedMs: sample.takenAt - started,
    rss: rssFigures(sample.vmas),
    layers,
    arenas: arenas.sort((a, b) => (a.index ?? 1e9) - (b.index ?? 1e9)),
    mallocInfo: fresh,
    stoppedMs: fresh ? (latest?.pause.stoppedMs ?? null) : null,
  };
}

export function watchSummary(ticks: WatchTick[]): WatchSummary {
  const totals = ticks.map((t) => t.rss.total);
  const keys = [...new Set(ticks.flatMap((t) => t.arenas.map((a) => a.key)))];
  const last = ticks[ticks.length - 1];
  return {
    schema: 'heapgap.watch-summary/1',
    pid: ticks[0]?.pid ?? 0,
    ticks: ticks.length,
    durationMs: last?.elapsedMs ?? 0,
    rss: { first: totals[0] ?? 0, last: totals[totals.length - 1] ?? 0, min: Math.min(...totals, Infinity) === Infinity ? 0 : Math.min(...totals), max: Math.max(0, ...totals) },
    arenas: keys.map((key) => {
      const series = ticks.map((t) => t.arenas.find((a) => a.key === key)).filter((a) => a !== undefined);
      return { key, index: series[series.length - 1]?.index ?? null, first: series[0]?.rssBytes ?? 0, last: series[series.length - 1]?.rssBytes ?? 0, max: Math.max(0, ...series.map((a) => a.rssBytes)) };
    }),
  };
}
