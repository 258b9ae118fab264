import type { TopSamples } from '../collect/top/index.js';
import type { ProcessSample } from '../collect/top/process-sample.js';
import { SCHEMAS } from '../contract.js';
import { tunable } from '../parse/environ.js';
import type { TopArena, TopProcess, TopReport } from '../types.js';
import { sum } from '../units.js';

/**
 * Samples in, the ranked report out. Per arena, as inspect defines it: free = fastbins + bins + top,
 * in use = system - free, held free = max(0, rss - in use). The lists were read racily, so a cut-short
 * read gives a lower free figure and so a lower held-free figure: every figure is an estimate.
 */
export function analyseTop(raw: TopSamples): TopReport {
  const processes = raw.samples.map((s) => topProcess(s, raw.cpus));
  processes.sort((a, b) => (b.heldFreeEstimateBytes ?? -1) - (a.heldFreeEstimateBytes ?? -1) || b.rssBytes - a.rssBytes || a.pid - b.pid);
  return {
    schema: SCHEMAS.top,
    takenAt: raw.takenAt,
    durationMs: raw.durationMs,
    cpus: raw.cpus,
    cgroup: raw.cgroup,
    processCount: processes.length,
    processes,
    skipped: raw.skipped,
    inspected: [],
    inspectErrors: [],
  };
}

function topProcess(s: ProcessSample, cpus: number): TopProcess {
  const arenaDetail = (s.arenas ?? []).map((a): TopArena => {
    const freeEstimateBytes = a.free.fastBytes + a.free.binBytes + a.topBytes;
    const inUseEstimateBytes = Math.max(0, a.systemBytes - freeEstimateBytes);
    return {
      index: a.index,
      kind: a.kind,
      address: `0x${a.address.toString(16)}`,
      heaps: a.heaps,
      systemBytes: a.systemBytes,
      topBytes: a.topBytes,
      freeEstimateBytes,
      inUseEstimateBytes,
      rssBytes: a.rssBytes,
      heldFreeEstimateBytes: Math.max(0, a.rssBytes - inUseEstimateBytes),
      complete: a.free.complete,
    };
  });
  const known = s.arenas !== null;
  const partial = arenaDetail.filter((a) => !a.complete).length;
  const notes = [s.note, partial > 0 ? `${partial} arena(s) had a free list change under the read: held free is a lower bound there` : null].filter((n) => n !== null);
  return {
    pid: s.pid,
    comm: s.comm,
    allocator: s.allocator,
    glibcVersion: s.glibcVersion,
    threads: s.threads,
    rssBytes: s.rssBytes,
    arenas: known ? arenaDetail.length : null,
    arenaLimit: s.allocator === 'glibc' ? (tunable(s.env, 'arena_max', 'MALLOC_ARENA_MAX') ?? 8 * cpus) : null,
    arenaRssBytes: known ? sum(arenaDetail.map((a) => a.rssBytes)) : null,
    heldFreeEstimateBytes: known ? sum(arenaDetail.map((a) => a.heldFreeEstimateBytes)) : null,
    estimate: true,
    arenaDetail,
    note: notes.length > 0 ? notes.join('; ') : null,
  };
}

/** The first `n` processes `--inspect` can run inspect on (glibc, arenas read). */
export function inspectCandidates(report: TopReport, n: number): number[] {
  return report.processes.filter((p) => p.allocator === 'glibc' && p.heldFreeEstimateBytes !== null).slice(0, n).map((p) => p.pid);
}

/** `--limit N`: the first N processes of the ranking. */
export function limitTop(report: TopReport, limit: number | null): TopReport {
  return limit === null ? report : { ...report, processes: report.processes.slice(0, limit) };
}
