/** The address ranges glibc malloc owns, measured after detach: arena heaps and mmapped chunks. */
import type { ProcMemory } from '../../collect/memory.js';
import type { Vma } from '../../types.js';
import { hex } from '../../units.js';
import type { GlibcSection } from './section.js';

type Claims = GlibcSection['claims'];

/** Index of the first VMA (sorted, as smaps lists them) that ends after `addr`. */
export function firstEndingAfter(vmas: Vma[], addr: bigint): number {
  let lo = 0;
  let hi = vmas.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (vmas[mid]!.end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Which HEAP_MAX-aligned anonymous blocks really are thread-arena heaps, from their heap_info:
 * size and mprotect_size within HEAP_MAX, and ar_ptr pointing just past the heap_info of a first
 * heap (itself or another verified block). An aligned mapping of the program's own (the kernel
 * aligns large mappings now and then) fails these and is not claimed.
 */
export async function verifiedHeaps(candidates: bigint[], heapMax: number, memory: ProcMemory): Promise<bigint[]> {
  const max = BigInt(heapMax);
  const headers = new Map<bigint, { ar: bigint; prev: bigint }>();
  for (const base of candidates) {
    const b = await memory.read(base, 32);
    if (!b || b.length < 32) continue;
    const [ar, prev, size, mprot] = [b.readBigUInt64LE(0), b.readBigUInt64LE(8), b.readBigUInt64LE(16), b.readBigUInt64LE(24)];
    if (size === 0n || size > max || mprot < size || mprot > max || size % 4096n !== 0n) continue;
    headers.set(base, { ar, prev });
  }
  // A first heap holds its arena right after its heap_info (within a page of the block's start).
  const isFirst = (base: bigint, h: { ar: bigint; prev: bigint }) => h.prev === 0n && h.ar > base && h.ar < base + 4096n;
  const arenas = new Set([...headers].filter(([base, h]) => isFirst(base, h)).map(([, h]) => h.ar));
  return [...headers].filter(([base, h]) => isFirst(base, h) || (arenas.has(h.ar) && headers.has(h.prev))).map(([base]) => base);
}

export async function arenaClaims(vmas: Vma[], arenas: { index: number; heaps: { start: string; size: number; mprotectSize: number }[] }[], candidates: bigint[], heapMax: number, memory: ProcMemory): Promise<Claims> {
  const claims: Claims = [];
  const ranges: { start: bigint; end: bigint; arena: number | null }[] = [];
  if (arenas.length > 0) {
    for (const arena of arenas) for (const h of arena.heaps) ranges.push({ start: BigInt(h.start), end: BigInt(h.start) + BigInt(heapMax), arena: arena.index });
  } else {
    for (const start of candidates) ranges.push({ start, end: start + BigInt(heapMax), arena: null });
  }
  for (const r of ranges) {
    for (let i = firstEndingAfter(vmas, r.start); i < vmas.length && vmas[i]!.start < r.end; i++) {
      const vma = vmas[i]!;
      const start = vma.start > r.start ? vma.start : r.start;
      const end = vma.end < r.end ? vma.end : r.end;
      const exact = start === vma.start && end === vma.end;
      const rss = exact ? vma.rss : ((await memory.residentBytes(start, end)) ?? 0);
      claims.push({ start: hex(start), end: hex(end), category: 'arena', rss, arena: r.arena });
    }
  }
  return claims;
}

/**
 * Mmapped chunks: anonymous read-write VMAs outside the arenas whose first bytes are a chunk header
 * with IS_MMAPPED set. Several chunks (and other memory) can share one VMA, so the walk goes chunk
 * by chunk and stops at the first thing that is not one.
 */
export async function mmapChunkClaims(vmas: Vma[], candidates: bigint[], heapMax: number, memory: ProcMemory): Promise<Claims> {
  const claims: Claims = [];
  if (!memory.canRead) return claims;
  const max = BigInt(heapMax);
  const blocks = new Set(candidates);
  const inArena = (v: Vma) => blocks.has(v.start - (v.start % max));
  for (const vma of vmas) {
    if (vma.pathname !== '' || !vma.perms.startsWith('rw') || inArena(vma)) continue;
    let at = vma.start;
    while (at + 16n <= vma.end) {
      const header = await memory.u64pair(at);
      if (!header) break;
      const [prevSize, sizeField] = header;
      const size = sizeField & ~7n;
      if ((sizeField & 7n) !== 2n || prevSize !== 0n || size === 0n || size % 4096n !== 0n || at + size > vma.end) break;
      const exact = at === vma.start && at + size === vma.end;
      const rss = exact ? vma.rss : ((await memory.residentBytes(at, at + size)) ?? 0);
      claims.push({ start: hex(at), end: hex(at + size), category: 'mmap-chunk', rss, arena: null });
      at += size;
    }
  }
  return claims;
}

