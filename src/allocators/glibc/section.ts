import type { GlibcCapture } from './types.js';

/** glibc's section of a capture: what the stop and the reads after detach found. Hex addresses. */
export interface GlibcSection {
  /** HEAP_MAX_SIZE: the alignment and most size of a thread-arena heap (64 MiB on x86-64). */
  heapMax: number;
  /** null when no call was made: the heap check found the free lists corrupt (see heapCheck). */
  mallocInfo: string | null;
  /** The arena ring read from the target's memory while stopped; null if not read. */
  layout: GlibcLayout | null;
  /** Address ranges the allocator owns (arena heaps, mmapped chunks), with their measured Rss. */
  claims: { start: string; end: string; category: 'arena' | 'mmap-chunk'; rss: number; arena: number | null }[];
  /**
   * What malloc_trim(0) would release per arena, measured by following the free lists and counting
   * resident pages (absent when memory was not readable).
   */
  trimmable?: { index: number; residentBytes: number; chunks: number; complete: boolean }[];
  /** glibc's parameters (mp_) and the heap walk, read after detach (absent in older captures). */
  internals?: GlibcCapture;
  /** The free lists walked from outside in the stop, before any call (stop_checks.py). */
  heapCheck?: HeapCheck;
}

/** What the check before the calls found: per arena the figures a walk gives, and each corruption. */
export interface HeapCheck {
  /** Time the check took in the stop. */
  ms: number;
  /** false when the step budget ran out before every list was walked (the calls were made anyway). */
  complete: boolean;
  /** The step budget (chunks visited at most). */
  steps?: number;
  /**
   * The walk made before attach, while the process ran (racy: only a complete and clean one is
   * trusted). When it was, the walk in the stop has a time budget and what it had no time for is
   * covered by this one (`coveredBefore`): malloc_info only reads the lists.
   */
  before?: { ms: number; complete: boolean; clean: boolean; chunks?: number };
  /** The walk in the stop was cut by its time budget; the walk before attach covered the rest. */
  coveredBefore?: boolean;
  /** Arenas a stopped thread was changing (its lock held, its lists half-updated): not verified. */
  unverified?: number[];
  /** Corruptions found in arenas whose lock was free; the calls are not made when there is one. */
  corrupt: HeapProblem[];
  arenas: {
    index: number;
    address: string;
    systemMem: number;
    /** null when the top chunk could not be read sanely. */
    top: string | null;
    topBytes: number | null;
    fastBytes: number;
    fastChunks: number;
    binBytes: number;
    binChunks: number;
    /** Every list of this arena was walked to its end and found sane: its figures are whole. */
    whole: boolean;
    heaps: { start: string; size: number; mprotectSize: number }[];
  }[];
}

/** One corruption: where (arena, list, bin, chunk), what is wrong, the likely cause, and the line users read. */
export interface HeapProblem {
  arena: number | null;
  arenaAddress: string | null;
  list: string;
  bin: number | null;
  chunk: string | null;
  what: string;
  cause: string;
  text: string;
}

export interface GlibcLayout {
  arenas: { index: number; address: string; systemMem: number; top: string; heaps: { start: string; size: number; mprotectSize: number }[]; note?: string }[];
  note: string | null;
}
