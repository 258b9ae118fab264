/** When glibc's findings fire, from the analysed arenas (their words are in findings.ts). */
import { finding } from '../../analyse/findings/index.js';
import type { Finding } from '../../analyse/findings/index.js';
import type { Severity } from '../../contract.js';
import { tunable } from '../../parse/environ.js';
import type { ArenaReport } from '../../types.js';
import { MIB, sum } from '../../units.js';
import type { AnalyseInput } from '../types.js';
import type { Thresholds } from './heap-analysis.js';

export interface GlibcFindingInput extends AnalyseInput {
  arenas: ArenaReport[];
  mmapChunks: { count: number; bytes: number; rss: number };
  trimThreshold: number;
  /** The thresholds in force, when known: read from mp_ (source says where they came from). */
  thresholds?: Thresholds;
  /** mp_.arena_max (0: no cap), or null/absent when mp_ was not read. */
  arenaMax?: number | null;
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
  const th: Thresholds = r.thresholds ?? { trimThreshold: r.trimThreshold, mmapThreshold: 128 * 1024, topPad: 128 * 1024, source: 'default', raised: false };
  const words = r.thresholds ? { source: th.source } : {};
  const pinned = r.arenas.filter((x) => x.pinnedTop);
  if (pinned.length > 0) {
    // Walked arenas count the resident free pages below their pinning chunks; others malloc_info's bin bytes.
    const held = (a: ArenaReport) => a.pinnedResidentBytes ?? a.binFreeBytes;
    const bytes = sum(pinned.map(held));
    const arenas = pinned.map((a) => {
      const pin = a.pinning?.[0];
      return { index: a.index, address: a.address, main: a.kind === 'main', bytes: held(a), ...(pin ? { pin: { address: pin.address, size: pin.size }, more: Math.max(0, (a.pinningChunks ?? 1) - 1) } : {}) };
    });
    const resident = pinned.some((a) => a.pinnedResidentBytes !== undefined) ? { resident: true } : {};
    out.push(finding('pinned-top', bytes >= 16 * MIB ? 'warn' : 'info', bytes, { arenas, trimThreshold: th.trimThreshold, ...words, ...resident }));
  }
  if (th.raised) {
    const held = sum(r.arenas.map((a) => a.heldFreeRssBytes));
    out.push(finding('mmap-threshold-raised', held >= 8 * MIB ? 'warn' : 'info', held, { mmapThreshold: th.mmapThreshold, trimThreshold: th.trimThreshold }));
  }
  const threadTops = r.arenas.filter((a) => a.kind === 'thread' && a.topBytes >= th.trimThreshold);
  const topBytes = sum(threadTops.map((a) => Math.min(a.topBytes, a.heldFreeRssBytes)));
  if (topBytes >= MIB) out.push(finding('thread-top-resident', topBytes >= 32 * MIB ? 'warn' : 'info', topBytes, { arenas: threadTops.length, bytes: topBytes, ...(r.thresholds ? { trimThreshold: th.trimThreshold, source: th.source } : {}) }));
  // mp_.arena_max is what glibc obeys (mallopt included); the environment only when mp_ was not read.
  const configured = r.arenaMax !== undefined && r.arenaMax !== null ? (r.arenaMax > 0 ? r.arenaMax : null) : tunable(r.env, 'arena_max', 'MALLOC_ARENA_MAX');
  const advice = arenaAdvice(r.arenas, r.cpus, configured);
  if (advice) {
    out.push(finding('arena-count', advice.saving >= 64 * MIB ? 'warn' : 'info', advice.saving, {
      arenas: r.arenas.length, threads: r.status.threads, cpus: r.cpus, defaultLimit: 8 * r.cpus, cap: advice.cap, savingBytes: advice.saving,
    }));
  }
  if (r.mmapChunks.bytes >= 16 * MIB) out.push(finding('mmap-chunks', 'info', r.mmapChunks.bytes, { ...r.mmapChunks, ...(r.thresholds ? { mmapThreshold: th.mmapThreshold, source: th.source } : {}) }));
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
  // With a heap walk (read after the trim): the chunk brk cannot move below; else malloc_info's estimate.
  const pin = main?.pinning?.[0];
  const below = main?.pinning ? (pin ? main.pinnedFreeBytes ?? 0 : 0) : main?.pinnedTop ? main.binFreeBytes : 0;
  if (below >= 64 * 1024) out.push(finding('trim-brk-pinned', 'info', below, { bytes: below, ...(pin ? { pin: { address: pin.address, size: pin.size } } : {}) }));
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
