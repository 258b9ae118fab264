import type { Vma } from '../types.js';

/** What the kernel says about a piece of memory beyond its Rss (contract v2 breakdown fields). */
export interface KernelFigures {
  /** Private_Clean + Private_Dirty: freed when the process exits (the USS share). */
  privateBytes: number;
  /** MADV_FREE'd pages still counted in Rss until the kernel reclaims them. */
  lazyFreeBytes: number;
  anonHugePagesBytes: number;
  swapBytes: number;
}

export const NO_FIGURES: KernelFigures = { privateBytes: 0, lazyFreeBytes: 0, anonHugePagesBytes: 0, swapBytes: 0 };

export function vmaFigures(v: Vma): KernelFigures {
  return { privateBytes: v.privateRss, lazyFreeBytes: v.lazyFree, anonHugePagesBytes: v.anonHugePages, swapBytes: v.swap };
}

/**
 * The share of a VMA's figures that belongs to a sub-range holding `rss` of its Rss and `size` of
 * its address space. smaps gives these per VMA only, so a split VMA's figures are apportioned:
 * resident ones by Rss, swap by size; the caller gives the remainder to the VMA's last region, so
 * a VMA's regions still sum to its own figures exactly.
 */
export function shareOf(v: Vma, rss: number, size: number): KernelFigures {
  const page = (x: number) => Math.floor(x / 4096) * 4096;
  const byRss = (x: number) => (v.rss > 0 ? Math.min(x, page((x * rss) / v.rss)) : 0);
  return {
    privateBytes: byRss(v.privateRss),
    lazyFreeBytes: byRss(v.lazyFree),
    anonHugePagesBytes: byRss(v.anonHugePages),
    swapBytes: v.size > 0 ? Math.min(v.swap, page((v.swap * size) / v.size)) : 0,
  };
}

export function minus(a: KernelFigures, b: KernelFigures): KernelFigures {
  return {
    privateBytes: Math.max(0, a.privateBytes - b.privateBytes),
    lazyFreeBytes: Math.max(0, a.lazyFreeBytes - b.lazyFreeBytes),
    anonHugePagesBytes: Math.max(0, a.anonHugePagesBytes - b.anonHugePagesBytes),
    swapBytes: Math.max(0, a.swapBytes - b.swapBytes),
  };
}

export function plus(a: KernelFigures, b: KernelFigures): KernelFigures {
  return {
    privateBytes: a.privateBytes + b.privateBytes,
    lazyFreeBytes: a.lazyFreeBytes + b.lazyFreeBytes,
    anonHugePagesBytes: a.anonHugePagesBytes + b.anonHugePagesBytes,
    swapBytes: a.swapBytes + b.swapBytes,
  };
}

export function sumFigures(list: readonly KernelFigures[]): KernelFigures {
  return list.reduce(plus, NO_FIGURES);
}

/** rss.uss and rss.lazyFree of the whole process (the rollup's Private_* and LazyFree). */
export function processFigures(vmas: readonly Vma[]): { uss: number; lazyFree: number; anonHugePages: number } {
  let uss = 0;
  let lazyFree = 0;
  let anonHugePages = 0;
  for (const v of vmas) {
    uss += v.privateRss;
    lazyFree += v.lazyFree;
    anonHugePages += v.anonHugePages;
  }
  return { uss, lazyFree, anonHugePages };
}
