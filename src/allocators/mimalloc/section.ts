/** mimalloc's part of a capture: stop.py's readings, decoded, plus the Rss of its live segments. */
import type { ProcMemory } from '../../collect/memory.js';
import { HeapgapError } from '../../errors.js';
import type { Vma } from '../../types.js';
import { hex } from '../../units.js';
import { num, record } from '../common.js';
import { decodeStatsBlock } from './stats-block.js';
import type { StatsBlock, StatsBlockCandidate } from './stats-block.js';
import { parseMimallocStats } from './stats-text.js';
import type { PrintedStat } from './stats-text.js';

/** MI_SEGMENT_SIZE on 64-bit (2.x): segments are this size and aligned to it. */
export const SEGMENT = 32n << 20n;

export interface MimallocSection {
  object: string;
  /** mi_version(): 209 for 2.0.9. */
  version: number | null;
  processInfo: { currentCommit: number; peakCommit: number; currentRss: number; peakRss: number; pageFaults: number; elapsedMs: number };
  /** The exact statistics block, where it was found (see stats-block.ts). */
  block: StatsBlock | null;
  /** mi_stats_print_out's rows, rounded as printed. */
  printed: Record<string, PrintedStat> | null;
  options: Record<string, number> | null;
  /** Live segments' pieces, by mapping: [start, end) and its resident bytes. */
  claims: { start: string; end: string; rss: number }[];
  segmentsChecked: boolean;
}

export async function mimallocSection(raw: unknown, object: string, vmas: Vma[], memory: ProcMemory): Promise<MimallocSection> {
  const r = record(raw, 'mimalloc collect result');
  const info = record(r.processInfo, 'mi_process_info result');
  const need = (k: string) => {
    const v = num(info, k);
    if (v === null) throw new HeapgapError('BAD_INPUT', `mimalloc: mi_process_info gave no ${k}`);
    return v;
  };
  const processInfo = { currentCommit: need('currentCommit'), peakCommit: need('peakCommit'), currentRss: need('currentRss'), peakRss: need('peakRss'), pageFaults: need('pageFaults'), elapsedMs: need('elapsedMs') };
  const candidates = Array.isArray(r.statsBlocks) ? (r.statsBlocks as StatsBlockCandidate[]) : [];
  const options = r.options && typeof r.options === 'object' ? (r.options as Record<string, number>) : null;
  const segments = Array.isArray(r.segments) ? r.segments.filter((a): a is string => typeof a === 'string').map((a) => BigInt(a)) : null;
  return {
    object,
    version: num(r, 'version'),
    processInfo,
    block: decodeStatsBlock(candidates, { current: processInfo.currentCommit, peak: processInfo.peakCommit }),
    printed: typeof r.statsText === 'string' ? parseMimallocStats(r.statsText) : null,
    options,
    claims: await segmentClaims(segments ?? [], vmas, memory),
    segmentsChecked: segments !== null,
  };
}

/** Each live segment's 32 MiB, cut to the mappings it overlaps; Rss from pagemap for a partial mapping. */
async function segmentClaims(starts: bigint[], vmas: Vma[], memory: ProcMemory): Promise<MimallocSection['claims']> {
  const out: MimallocSection['claims'] = [];
  for (const s of starts) {
    const e = s + SEGMENT;
    for (const v of vmas) {
      if (v.end <= s || v.start >= e) continue;
      const lo = v.start > s ? v.start : s;
      const hi = v.end < e ? v.end : e;
      const rss = lo === v.start && hi === v.end ? v.rss : ((await memory.residentBytes(lo, hi)) ?? Math.round((v.rss * Number(hi - lo)) / Math.max(1, v.size)));
      out.push({ start: hex(lo), end: hex(hi), rss });
    }
  }
  return out;
}
