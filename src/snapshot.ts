import type { GlibcCapture } from './allocators/glibc/types.js';
import type { Allocator } from './types.js';

/**
 * Everything inspect needs about one process at one moment: raw inputs plus what only a live process
 * can tell (allocator metadata read while stopped, Rss of sub-ranges from pagemap). A capture file is
 * exactly this object, so `report` re-analyses old captures with today's code.
 */
export interface Snapshot {
  schema: 'heapgap.capture/1';
  heapgapVersion: string;
  takenAt: string;
  pid: number;
  comm: string;
  cpus: number;
  allocator: Allocator;
  allocatorEvidence: string | null;
  glibcVersion: string | null;
  /** MALLOC_* and GLIBC_TUNABLES only. */
  env: Record<string, string>;
  heapMax: number;
  raw: { smaps: string; status: string; mallocInfo: string | null };
  /** The arena ring read from the target's memory while stopped; null if not read. */
  layout: SnapshotLayout | null;
  /** Address ranges the allocator owns, with their measured Rss. Hex addresses. */
  claims: { start: string; end: string; category: 'arena' | 'mmap-chunk'; rss: number; arena: number | null }[];
  stackPointers: string[];
  /**
   * What malloc_trim(0) would release per arena, measured by following the free lists and counting
   * resident pages (absent in captures from before this field, or when memory was not readable).
   */
  trimmable?: { index: number; residentBytes: number; chunks: number; complete: boolean }[];
  /** glibc's parameters (mp_) and the heap walk, read after detach (absent in older captures). */
  glibc?: GlibcCapture;
  pause: { stoppedMs: number | null; attachMs: number | null; callMs: number | null } | null;
  notes: string[];
}

export interface SnapshotLayout {
  arenas: { index: number; address: string; systemMem: number; top: string; heaps: { start: string; size: number; mprotectSize: number }[] }[];
  note: string | null;
}
