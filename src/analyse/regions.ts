import type { Claim } from '../allocators/types.js';
import type { Category, Vma } from '../types.js';
import { minus, shareOf, sumFigures, vmaFigures } from '../kernel/figures.js';
import type { KernelFigures } from '../kernel/figures.js';

export type { Claim } from '../allocators/types.js';

/** A piece of the address space with one category: a whole VMA or part of one. */
export interface Region {
  start: bigint;
  end: bigint;
  category: Category;
  rss: number;
  /** Bytes of address space (for the rest of a split VMA: what the claims left). */
  size: number;
  /** Index of the VMA the region lies in. */
  vma: number;
  /** Private, LazyFree, AnonHugePages, Swap of this region (apportioned when the VMA is split). */
  kernel: KernelFigures;
}


const KERNEL = new Set(['[vdso]', '[vvar]', '[vsyscall]', '[vvar_vclock]']);

/** The category of a VMA that no claim covers. */
export function baseCategory(vma: Vma, stackPointers: bigint[], previous: Vma | undefined): Category {
  const path = vma.pathname;
  if (KERNEL.has(path)) return 'kernel';
  if (path === '[stack]' || path.startsWith('[stack:')) return 'stack';
  if (path === '[heap]') return 'arena';
  if (isShmem(vma)) return 'shmem';
  if (vma.inode !== 0 || path.startsWith('/')) return 'file';
  if (stackPointers.some((sp) => sp >= vma.start && sp < vma.end)) return 'stack';
  // pthread and most runtime stacks: a read-write block right above a small PROT_NONE guard.
  if (previous && previous.end === vma.start && previous.perms.startsWith('---') && previous.pathname === '' && previous.size <= 64 * 1024 && vma.perms.startsWith('rw')) {
    return 'stack';
  }
  return 'anon-other';
}

export function isShmem(vma: Vma): boolean {
  const p = vma.pathname;
  return p.startsWith('/dev/shm/') || p.startsWith('/memfd:') || p.startsWith('/SYSV') || p.startsWith('[anon_shmem') || p === '/dev/zero (deleted)' || (vma.perms[3] === 's' && vma.inode === 0);
}

/**
 * Splits every VMA into regions: the claims inside it, and the rest under the VMA's own category.
 * The rest gets what is left of the VMA's Rss, so regions always sum to the VMAs' Rss exactly.
 */
export function buildRegions(vmas: Vma[], claims: Claim[], stackPointers: bigint[]): Region[] {
  const sorted = [...claims].sort((a, b) => (a.start < b.start ? -1 : 1));
  const regions: Region[] = [];
  let c = 0;
  vmas.forEach((vma, i) => {
    while (c < sorted.length && sorted[c]!.end <= vma.start) c++;
    let claimed = 0;
    let covered = 0n;
    const mine: KernelFigures[] = [];
    for (let k = c; k < sorted.length && sorted[k]!.start < vma.end; k++) {
      const claim = sorted[k]!;
      const start = claim.start > vma.start ? claim.start : vma.start;
      const end = claim.end < vma.end ? claim.end : vma.end;
      const whole = start === vma.start && end === vma.end;
      const rss = Math.min(whole ? vma.rss : claim.rss, vma.rss - claimed);
      const kernel = whole ? vmaFigures(vma) : shareOf(vma, rss, Number(end - start));
      mine.push(kernel);
      regions.push({ start, end, category: claim.category, rss, size: Number(end - start), vma: i, kernel });
      claimed += rss;
      covered += end - start;
    }
    if (covered < vma.end - vma.start) {
      regions.push({ start: vma.start, end: vma.end, category: baseCategory(vma, stackPointers, vmas[i - 1]), rss: vma.rss - claimed, size: Number(vma.end - vma.start - covered), vma: i, kernel: minus(vmaFigures(vma), sumFigures(mine)) });
    }
  });
  return regions;
}
