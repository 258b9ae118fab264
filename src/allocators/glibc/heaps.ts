/** An arena's heaps as reported: the main arena's brk heap, a thread arena's heap_info blocks. */
import type { HeapEntry, Vma } from '../../types.js';
import { hex, sum } from '../../units.js';
import { firstEndingAfter } from './claims.js';
import type { Claim } from '../types.js';

/** A claim of the capture, with the permissions of the VMA it lies in. */
export type SectionClaim = Claim & { arena: number | null; perm: string };

/** The main arena's heap: [heap], the brk area (one heap however many VMAs brk and mprotect made). */
export function mainHeaps(vmas: Vma[]): HeapEntry[] {
  const parts = vmas.filter((v) => v.pathname === '[heap]');
  if (parts.length === 0) return [];
  return [heapEntry(parts[0]!.start, parts[parts.length - 1]!.end, parts.map((v) => ({ start: v.start, end: v.end, rss: v.rss, perm: v.perms })))];
}

/**
 * A thread arena's heaps from its heap_info chain: each starts HEAP_MAX-aligned and spans HEAP_MAX
 * of address space, of which `mprotectSize` is read-write; its VMAs are the claims inside it.
 */
export function threadHeaps(claims: SectionClaim[], nr: number, chain: { start: string; mprotectSize: number }[], heapMax: number): HeapEntry[] {
  const mine = claims.filter((c) => c.category === 'arena' && c.arena === nr);
  const starts = chain.length > 0 ? chain.map((h) => BigInt(h.start)) : [...new Set(mine.map((c) => c.start - (c.start % BigInt(heapMax))))];
  return starts.map((start) => {
    const end = start + BigInt(heapMax);
    const vmas = mine.filter((c) => c.start >= start && c.start < end).map((c) => ({ start: c.start, end: c.end, rss: c.rss, perm: c.perm }));
    return heapEntry(start, end, vmas);
  });
}

/** Permissions of the VMA holding addr (claims are parts of VMAs; smaps lists VMAs sorted). */
export function permAt(vmas: Vma[], addr: bigint): string {
  const vma = vmas[firstEndingAfter(vmas, addr)];
  return vma && vma.start <= addr ? vma.perms : '';
}

export function heapEntry(start: bigint, end: bigint, vmas: { start: bigint; end: bigint; rss: number; perm: string }[]): HeapEntry {
  return {
    start: hex(start),
    end: hex(end),
    size: Number(end - start),
    mappedBytes: sum(vmas.filter((v) => v.perm.startsWith('rw')).map((v) => Number(v.end - v.start))),
    rss: sum(vmas.map((v) => v.rss)),
    vmas: vmas.map((v) => ({ start: hex(v.start), end: hex(v.end), rss: v.rss, perm: v.perm })),
  };
}
