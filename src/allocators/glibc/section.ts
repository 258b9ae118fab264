/** glibc's section of a capture: what the stop and the reads after detach found. Hex addresses. */
export interface GlibcSection {
  /** HEAP_MAX_SIZE: the alignment and most size of a thread-arena heap (64 MiB on x86-64). */
  heapMax: number;
  mallocInfo: string;
  /** The arena ring read from the target's memory while stopped; null if not read. */
  layout: GlibcLayout | null;
  /** Address ranges the allocator owns (arena heaps, mmapped chunks), with their measured Rss. */
  claims: { start: string; end: string; category: 'arena' | 'mmap-chunk'; rss: number; arena: number | null }[];
  /**
   * What malloc_trim(0) would release per arena, measured by following the free lists and counting
   * resident pages (absent when memory was not readable).
   */
  trimmable?: { index: number; residentBytes: number; chunks: number; complete: boolean }[];
}

export interface GlibcLayout {
  arenas: { index: number; address: string; systemMem: number; top: string; heaps: { start: string; size: number; mprotectSize: number }[]; note?: string }[];
  note: string | null;
}
