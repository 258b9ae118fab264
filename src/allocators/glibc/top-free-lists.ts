import type { ResidentMemory } from '../../collect/top/resident-memory.js';

/** What a racy read of one arena's free lists found. */
export interface FreeListRead {
  fastBytes: number;
  binBytes: number;
  chunks: number;
  /** False when a list was cut short: a pointer failed a check (the target changed it) or the budget ran out. */
  complete: boolean;
}

/** Where the lists of one arena are, and where its chunks may live. */
export interface FreeListPlace {
  /** The arena's malloc_state, as read in one piece (top .. bins end at least). */
  state: Buffer;
  address: bigint;
  offsets: { fastbins: number; bins: number };
  ranges: [bigint, bigint][];
  /** glibc 2.32+ stores fastbin links mangled with their own address (safe-linking). */
  safeLinking: boolean;
}

const NFASTBINS = 10;
const NBINS = 128;
const MINSIZE = 32n;
const ALIGN = 15n;

/**
 * Follows the fastbins and every bin (unsorted, small, large) through /proc/PID/mem while the
 * target runs. Nothing is trusted: a chunk must be aligned, sized, inside the arena's own heaps, and
 * (for the doubly linked bins) point back to the chunk it came from; the first one that does not
 * ends that list and marks the read incomplete. `budget.chunks` bounds the reads across arenas.
 */
export async function readFreeLists(memory: ResidentMemory, at: FreeListPlace, budget: { chunks: number }): Promise<FreeListRead> {
  const out: FreeListRead = { fastBytes: 0, binBytes: 0, chunks: 0, complete: true };
  const inside = (p: bigint, size: bigint) => at.ranges.some(([s, e]) => p >= s && p + size <= e);
  for (let i = 0; i < NFASTBINS; i++) {
    let p = at.state.readBigUInt64LE(at.offsets.fastbins + i * 8);
    const want = BigInt((i + 2) * 16); // fastbin_index(size) = size/16 - 2 on 64-bit
    const seen = new Set<bigint>();
    while (p !== 0n) {
      if (budget.chunks-- <= 0 || seen.has(p) || (p & ALIGN) !== 0n) return incomplete(out);
      seen.add(p);
      const head = await memory.read(p + 8n, 16);
      if (!head) return incomplete(out);
      const size = head.readBigUInt64LE(0) & ~7n;
      if (size !== want || !inside(p, size)) return incomplete(out);
      out.fastBytes += Number(size);
      out.chunks++;
      const stored = head.readBigUInt64LE(8);
      p = at.safeLinking ? ((p + 16n) >> 12n) ^ stored : stored;
    }
  }
  for (let bin = 1; bin < NBINS; bin++) {
    const fdAt = at.offsets.bins + (bin - 1) * 16;
    const binHead = at.address + BigInt(fdAt) - 16n; // bin_at(): a fake chunk whose fd/bk are the list ends
    let prev = binHead;
    let p = at.state.readBigUInt64LE(fdAt);
    const seen = new Set<bigint>();
    while (p !== binHead) {
      if (budget.chunks-- <= 0 || seen.has(p) || (p & ALIGN) !== 0n) return incomplete(out);
      seen.add(p);
      const chunk = await memory.read(p + 8n, 24);
      if (!chunk) return incomplete(out);
      const size = chunk.readBigUInt64LE(0) & ~7n;
      if (size < MINSIZE || !inside(p, size) || chunk.readBigUInt64LE(16) !== prev) return incomplete(out);
      out.binBytes += Number(size);
      out.chunks++;
      prev = p;
      p = chunk.readBigUInt64LE(8);
    }
  }
  return out;
}

function incomplete(out: FreeListRead): FreeListRead {
  out.complete = false;
  return out;
}
