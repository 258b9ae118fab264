import { tunable } from '../../parse/environ.js';
import type { ArenaReport } from '../../types.js';
import type { GlibcCapture } from './types.js';

/** glibc's defaults (reference §6): what is assumed when mp_ could not be read. */
export const DEFAULT_MMAP_THRESHOLD = 128 * 1024;
export const DEFAULT_TRIM_THRESHOLD = 128 * 1024;
export const DEFAULT_TOP_PAD = 128 * 1024;

/** The thresholds findings use, and where they came from. */
export interface Thresholds {
  mmapThreshold: number;
  trimThreshold: number;
  topPad: number;
  /** memory: read from mp_ in the process; environment: MALLOC_* / GLIBC_TUNABLES; default: assumed. */
  source: 'memory' | 'environment' | 'default';
  /** The dynamic threshold moved: mmapThreshold is the size of the mmapped chunk whose free() raised it. */
  raised: boolean;
}

/** Pure: the capture's mp_ reading when there is one, else the environment, else glibc's defaults. */
export function thresholds(glibc: GlibcCapture | undefined, env: Record<string, string>): Thresholds {
  const p = glibc?.params;
  if (p) {
    return { mmapThreshold: p.mmapThreshold, trimThreshold: p.trimThreshold, topPad: p.topPad, source: 'memory', raised: p.mmapThresholdDynamic && p.mmapThreshold > DEFAULT_MMAP_THRESHOLD };
  }
  const mmap = tunable(env, 'mmap_threshold', 'MALLOC_MMAP_THRESHOLD_');
  const trim = tunable(env, 'trim_threshold', 'MALLOC_TRIM_THRESHOLD_');
  const pad = tunable(env, 'top_pad', 'MALLOC_TOP_PAD_');
  return {
    mmapThreshold: mmap ?? DEFAULT_MMAP_THRESHOLD,
    trimThreshold: trim ?? DEFAULT_TRIM_THRESHOLD,
    topPad: pad ?? DEFAULT_TOP_PAD,
    source: mmap !== null || trim !== null || pad !== null ? 'environment' : 'default',
    raised: false,
  };
}

/** allocatorStats.glibc: glibc's own parameters, read from mp_ in the target. Bytes are bytes. */
export interface GlibcStats {
  [field: string]: number | boolean | null;
  mmapThreshold: number;
  trimThreshold: number;
  topPad: number;
  arenaMax: number;
  arenaTest: number;
  nMmaps: number;
  /** False once fixed by mallopt or the environment. */
  mmapThresholdDynamic: boolean;
  nMmapsMax: number;
  maxNMmaps: number;
  mmappedBytes: number;
  maxMmappedBytes: number;
  tcacheCount: number | null;
  tcacheMaxBytes: number | null;
}

/** allocatorStats.glibc: null when mp_ was not located (the capture's paramsNote says why). */
export function glibcStats(glibc: GlibcCapture | undefined): GlibcStats | null {
  const p = glibc?.params;
  if (!p) return null;
  return {
    mmapThreshold: p.mmapThreshold, trimThreshold: p.trimThreshold, topPad: p.topPad, arenaMax: p.arenaMax, arenaTest: p.arenaTest,
    nMmaps: p.nMmaps, mmapThresholdDynamic: p.mmapThresholdDynamic, nMmapsMax: p.nMmapsMax, maxNMmaps: p.maxNMmaps,
    mmappedBytes: p.mmappedBytes, maxMmappedBytes: p.maxMmappedBytes, tcacheCount: p.tcacheCount, tcacheMaxBytes: p.tcacheMaxBytes,
  };
}

/**
 * The walk's view of one arena: the pinning chunks, and pinnedTop true only when the free memory
 * below them that is still resident reaches the trim threshold, what automatic trimming would have
 * returned from a top that size (after a trim madvised it away, nothing is left to warn about).
 * Without a complete walk, the caller keeps its malloc_info estimate.
 */
export function walkedArena(glibc: GlibcCapture | undefined, index: number, trimThreshold: number): Partial<Pick<ArenaReport, 'pinning' | 'pinningChunks' | 'pinnedFreeBytes' | 'pinnedResidentBytes' | 'pageMaps' | 'walk' | 'pinnedTop'>> | null {
  const w = glibc?.arenas.find((a) => a.index === index);
  if (!w) return null;
  if (!w.complete) return { walk: { complete: false, problem: w.problem } };
  return {
    pinning: w.pinning,
    pinningChunks: w.pinningChunks,
    pinnedFreeBytes: w.pinnedFreeBytes,
    pinnedResidentBytes: w.pinnedResidentBytes,
    pageMaps: w.heaps,
    walk: { complete: true, problem: null },
    pinnedTop: w.pinning.length > 0 && w.pinnedResidentBytes >= trimThreshold,
  };
}
