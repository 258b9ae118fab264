/** When glibc's findings fire, from the analysed arenas (their words are in findings.ts). */
import { finding } from '../../analyse/findings/index.js';
import type { Finding } from '../../analyse/findings/index.js';
import type { Severity } from '../../contract.js';
import { tunable } from '../../parse/environ.js';
import type { ArenaReport } from '../../types.js';
import { MIB, sum } from '../../units.js';
import type { AnalyseInput } from '../types.js';

export interface GlibcFindingInput extends AnalyseInput {
  arenas: ArenaReport[];
  mmapChunks: { count: number; bytes: number; rss: number };
  trimThreshold: number;
  topInRest: boolean;
}

export function glibcFindings(r: GlibcFindingInput): Finding[] {
  const out: Finding[] = [];
  const gap = sum(r.arenas.map((a) => a.heldFreeRssBytes));
  if (gap >= MIB) {
    const share = gap / Math.max(1, r.rss.total);
    const severity: Severity = share >= 0.25 && gap >= 64 * MIB ? 'critical' : share >= 0.1 && gap >= 8 * MIB ? 'warn' : 'info';
    const trimmableBytes = sum(r.arenas.map((a) => a.predictedTrimBytes));
    // Recommending a trim that returns next to nothing (e.g. right after one) would mislead.
    if (trimmableBytes >= 0.25 * gap) out.push(finding('held-free-gap', severity, gap, { gapBytes: gap, share, trimmableBytes, pid: r.pid }));
    else out.push(finding('held-free-untrimmable', severity, gap, { gapBytes: gap, share, trimmableBytes }));
  }
  const pinned = r.arenas.filter((x) => x.pinnedTop);
  if (pinned.length > 0) {
    const bytes = sum(pinned.map((a) => a.binFreeBytes));
    out.push(finding('pinned-top', bytes >= 16 * MIB ? 'warn' : 'info', bytes, { arenas: pinned.map((a) => ({ index: a.index, address: a.address, main: a.kind === 'main', bytes: a.binFreeBytes })), trimThreshold: r.trimThreshold }));
  }
  const threadTops = r.arenas.filter((a) => a.kind === 'thread' && a.topBytes >= r.trimThreshold);
  const topBytes = sum(threadTops.map((a) => Math.min(a.topBytes, a.heldFreeRssBytes)));
  if (topBytes >= MIB) out.push(finding('thread-top-resident', topBytes >= 32 * MIB ? 'warn' : 'info', topBytes, { arenas: threadTops.length, bytes: topBytes }));
  const configured = tunable(r.env, 'arena_max', 'MALLOC_ARENA_MAX');
  const advice = arenaAdvice(r.arenas, r.cpus, configured);
  if (advice) {
    out.push(finding('arena-count', advice.saving >= 64 * MIB ? 'warn' : 'info', advice.saving, {
      arenas: r.arenas.length, threads: r.status.threads, cpus: r.cpus, defaultLimit: 8 * r.cpus, cap: advice.cap, savingBytes: advice.saving,
    }));
  }
  if (r.mmapChunks.bytes >= 16 * MIB) out.push(finding('mmap-chunks', 'info', r.mmapChunks.bytes, r.mmapChunks));
  if (!r.topInRest) out.push(finding('no-top-figure', 'info', null, {}));
  if (r.arenas.some((a) => a.join === 'inferred')) out.push(finding('inferred-join', 'warn', null, {}));
  return out;
}

/** What trim cannot do, said next to what it did. */
export function trimFindings(arenas: ArenaReport[]): Finding[] {
  const out: Finding[] = [];
  const tops = sum(arenas.filter((a) => a.kind === 'thread').map((a) => Math.min(a.topBytes, a.heldFreeRssBytes)));
  if (tops >= MIB) out.push(finding('trim-thread-tops', 'info', tops, { bytes: tops }));
  const main = arenas.find((a) => a.kind === 'main');
  if (main?.pinnedTop) out.push(finding('trim-brk-pinned', 'info', main.binFreeBytes, { bytes: main.binFreeBytes }));
  out.push(finding('trim-tcache', 'info', null, {}));
  return out;
}

/**
 * Upper bound of what capping arenas at `cap` saves: threads would share the `cap` arenas that hold
 * the most live memory, and at best the free memory the other arenas keep resident would not exist.
 * A snapshot cannot tell how the threads' peaks overlap, so this is a bound, not a forecast
 * (measured on the fragmenter workload: bound 73.7 MiB, experiment 22 MiB; see README).
 */
export function arenaAdvice(arenas: ArenaReport[], cpus: number, configured: number | null): { cap: number; saving: number } | null {
  const cap = Math.max(2, Math.min(cpus, 4));
  if (arenas.length <= cap || (configured !== null && configured <= cap)) return null;
  const byUse = [...arenas].sort((a, b) => b.inUseBytes - a.inUseBytes);
  const saving = sum(byUse.slice(cap).map((a) => a.heldFreeRssBytes));
  return saving >= 4 * MIB ? { cap, saving } : null;
}
