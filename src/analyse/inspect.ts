/** One snapshot in, one report out. Pure: the same capture always renders the same report. */
import { ANALYSERS } from '../allocators/analysers.js';
import type { AllocatorAnalysis, AnalyseInput, Claim } from '../allocators/types.js';
import { CATEGORIES, SCHEMAS } from '../contract.js';
import { tunable } from '../parse/environ.js';
import { parseSmaps } from '../parse/smaps.js';
import { parseStatus } from '../parse/status.js';
import type { Snapshot } from '../snapshot.js';
import type { ArenaEntry, BreakdownRow, InspectReport, RssFigures, Vma } from '../types.js';
import { sum } from '../units.js';
import { isShmem } from './regions.js';
import { layeredRegions, mappedFiles, processKernel, regionFigures } from './layers.js';
import { layerFindings } from './layer-findings.js';
import type { Region } from './regions.js';

export function analyse(snap: Snapshot, parsed?: { vmas: Vma[] }): InspectReport {
  // collect/ has parsed this very text already; parsing 40 MB twice is what made large targets slow.
  const vmas = parsed?.vmas ?? parseSmaps(snap.raw.smaps, 'smaps');
  const status = parseStatus(snap.raw.status, 'status');
  const rss = { ...rssFigures(vmas), ...processKernel(vmas, snap.rollupAfter) };
  const input: AnalyseInput = { pid: snap.pid, vmas, status, env: snap.env, cpus: snap.cpus, rss };
  const analyses: AllocatorAnalysis[] = [];
  const allocatorStats: Record<string, Record<string, number | boolean | string | null>> = {};
  for (const [name, analyser] of Object.entries(ANALYSERS)) {
    const section = snap.sections[name as keyof typeof ANALYSERS];
    if (section === undefined) continue;
    const a = (analyser.analyse as (s: unknown, i: AnalyseInput) => AllocatorAnalysis)(section, input);
    analyses.push(a);
    if (a.stats) allocatorStats[name] = a.stats;
  }
  const claims: Claim[] = analyses.flatMap((a) => a.claims);
  const { regions, runtimes } = layeredRegions(vmas, claims, snap.stackPointers.map((s) => BigInt(s)), snap.runtime ?? null);
  const arenas: ArenaEntry[] = analyses.flatMap((a) => a.arenas);
  const mmapChunks = analyses.find((a) => a.mmapChunks)?.mmapChunks ?? { count: 0, bytes: 0, rss: 0 };
  const report: InspectReport = {
    schema: SCHEMAS.inspect,
    target: { pid: snap.pid, comm: snap.comm, threads: status.threads, cpus: snap.cpus, allocator: snap.allocator, allocators: snap.allocators, glibcVersion: snap.glibcVersion, env: snap.env },
    rss,
    breakdown: breakdown(regions),
    arenas,
    mmapChunks,
    totals: {
      // Figures an allocator does not count (null) add nothing.
      systemBytes: sum(arenas.map((a) => a.systemBytes ?? 0)),
      inUseBytes: sum(arenas.map((a) => a.inUseBytes ?? 0)),
      freeBytes: sum(arenas.map((a) => a.freeBytes ?? 0)),
      rssBytes: sum(arenas.map((a) => a.rssBytes ?? 0)),
      heldFreeRssBytes: sum(arenas.map((a) => a.heldFreeRssBytes ?? 0)),
      predictedTrimBytes: sum(arenas.map((a) => a.predictedTrimBytes ?? 0)),
    },
    arenaMax: { arenas: arenas.filter((a) => (a.allocator ?? 'glibc') === 'glibc').length, threads: status.threads, cpus: snap.cpus, defaultLimit: 8 * snap.cpus, configured: tunable(snap.env, 'arena_max', 'MALLOC_ARENA_MAX') },
    ...(Object.keys(allocatorStats).length > 0 ? { allocatorStats } : {}),
    findings: analyses.flatMap((a) => a.findings),
    pause: snap.pause ?? { stoppedMs: null, callMs: null, attachMs: null },
    notes: [...snap.notes, ...analyses.flatMap((a) => a.notes)],
    takenAt: snap.takenAt,
    runtimes,
    cgroup: snap.cgroup ?? null,
    files: mappedFiles(vmas),
  };
  report.findings.push(...layerFindings(report));
  return report;
}

/** Rss figures of a whole smaps: shared-memory VMAs are shmem, anonymous pages anon, the rest file. */
export function rssFigures(vmas: Vma[]): RssFigures {
  const total = sum(vmas.map((v) => v.rss));
  const anon = sum(vmas.map((v) => v.anonymous));
  const shmem = sum(vmas.filter(isShmem).map((v) => v.rss));
  return { total, anon, file: Math.max(0, total - anon - shmem), shmem, swap: sum(vmas.map((v) => v.swap)), pss: sum(vmas.map((v) => v.pss)) };
}

/** Rss per category; every resident byte is in exactly one row. */
export function breakdown(regions: Region[]): BreakdownRow[] {
  return CATEGORIES.map((category) => {
    const mine = regions.filter((r) => r.category === category);
    return { category, rss: sum(mine.map((r) => r.rss)), size: sum(mine.map((r) => r.size)), vmas: new Set(mine.map((r) => r.vma)).size, ...regionFigures(mine) };
  }).filter((row) => row.vmas > 0 || row.category === 'arena');
}
