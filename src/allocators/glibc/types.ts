import type { MallocPar } from './malloc-par.js';

/**
 * What heapgap read of glibc beyond malloc_info, after detach: its parameters (`mp_`) and one walk
 * of every arena's heaps. Stored in the capture (sections.glibc.internals) so `report` re-renders it.
 */
export interface GlibcCapture {
  /** null when mp_ could not be located; `paramsNote` says why. */
  params: MallocPar | null;
  paramsNote: string | null;
  /** One entry per arena walked (malloc_info nr); absent arenas were not walked. */
  arenas: ArenaWalkCapture[];
  walk: { ms: number; walkedBytes: number; readBytes: number } | null;
}

export interface PinningCapture {
  /** The pointer malloc returned (chunk + 16), hex. */
  address: string;
  size: number;
  freeBelowBytes: number;
}

export interface ArenaWalkCapture {
  index: number;
  address: string;
  complete: boolean;
  problem: string | null;
  attempts: number;
  liveChunks: number;
  liveBytes: number;
  freeChunks: number;
  freeBytes: number;
  topBytes: number;
  pinning: PinningCapture[];
  pinningChunks: number;
  pinningBytes: number;
  pinnedFreeBytes: number;
  pinnedResidentBytes: number;
  trimmableBytes: number;
  trimmableChunks: number;
  heaps: PageMap[];
}

/**
 * One heap's pages: live (a live chunk or the arena's header touches it), free and resident, free
 * and released. `runs` is the map in order, e.g. "L12R3F200": class letter and count of units of
 * `unitPages` pages (1 when exact; coarser units take the class most of their pages have).
 */
export interface PageMap {
  start: string;
  end: string;
  pageSize: number;
  pages: number;
  livePages: number;
  freeResidentPages: number;
  freeReleasedPages: number;
  /** Where the arena's top chunk starts in this heap, or null (older heaps). */
  topStart: string | null;
  unitPages: number;
  runs: string;
}
