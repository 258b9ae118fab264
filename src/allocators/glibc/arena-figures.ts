import type { MallocInfoHeap } from '../../types.js';
import { sum } from '../../units.js';
import { CHUNK_KEEP, PAGE } from './layout.js';

/** What one malloc_info <heap> says, corrected for how glibc prints it (reference §1). */
export interface ArenaFigures {
  systemBytes: number;
  fastFreeBytes: number;
  binFreeBytes: number;
  unsortedFreeBytes: number;
  /** null when this glibc (before 2.31) leaves the top chunk out of `rest`. */
  topBytes: number | null;
  freeBytes: number;
  inUseBytes: number;
  /** Estimated bytes malloc_trim would madvise away from free bin chunks (page-aligned interiors). */
  trimmableBinBytes: number;
}

// mtrim keeps the first sizeof(struct malloc_chunk) bytes of a chunk and whole pages only.

export function arenaFigures(heap: MallocInfoHeap): ArenaFigures {
  // Fastbin rows print the exact (even) chunk size; bin rows the raw size field, PREV_INUSE included.
  const fastRows = heap.rows.filter((r) => r.kind === 'size' && r.to % 2 === 0);
  const binRows = heap.rows.filter((r) => r.kind === 'size' && r.to % 2 === 1);
  const unsortedRows = heap.rows.filter((r) => r.kind === 'unsorted');
  const rawBin = sum(binRows.map((r) => r.total));
  const rawUnsorted = sum(unsortedRows.map((r) => r.total));
  const binChunks = sum(binRows.map((r) => r.count)) + sum(unsortedRows.map((r) => r.count));
  const fastFreeBytes = heap.fast ? heap.fast.size : sum(fastRows.map((r) => r.total));
  const binFreeBytes = rawBin - sum(binRows.map((r) => r.count));
  const unsortedFreeBytes = rawUnsorted - sum(unsortedRows.map((r) => r.count));
  // From 2.31 `rest` counts the top chunk as one more block; before, it is missing.
  const topInRest = heap.rest !== null && heap.rest.count === binChunks + 1;
  const topBytes = topInRest && heap.rest ? Math.max(0, heap.rest.size - rawBin - rawUnsorted) : null;
  const freeBytes = fastFreeBytes + binFreeBytes + unsortedFreeBytes + (topBytes ?? 0);
  const trimmableBinBytes = sum(
    [...binRows, ...unsortedRows].map((r) => {
      if (r.count === 0) return 0;
      const avg = (r.total - r.count) / r.count;
      return r.count * Math.max(0, Math.floor((avg - CHUNK_KEEP - PAGE / 2) / PAGE) * PAGE);
    }),
  );
  return {
    systemBytes: heap.systemCurrent,
    fastFreeBytes,
    binFreeBytes,
    unsortedFreeBytes,
    topBytes,
    freeBytes,
    inUseBytes: Math.max(0, heap.systemCurrent - freeBytes),
    trimmableBinBytes,
  };
}
