import type { CgroupReport } from '../kernel/cgroup.js';
import { fileRows } from '../kernel/files.js';
import type { FileRow } from '../kernel/files.js';
import { processFigures, sumFigures } from '../kernel/figures.js';
import type { KernelFigures } from '../kernel/figures.js';
import { recogniseRuntimes } from '../runtimes/index.js';
import { parseRollup } from '../parse/rollup.js';
import type { RuntimeFacts, RuntimeReport } from '../runtimes/types.js';
import type { Category, Vma } from '../types.js';
import { buildRegions, isShmem } from './regions.js';
import type { Claim, Region } from './regions.js';

/**
 * The runtime and kernel layers on top of the allocator's claims: regions with the runtimes'
 * claims added (they take only VMAs malloc does not own and that would otherwise be anon-other),
 * the runtimes' report sections, and the mapped files.
 */
export function layeredRegions(vmas: Vma[], claims: Claim[], stackPointers: bigint[], facts: RuntimeFacts | null): { regions: Region[]; runtimes: RuntimeReport[] } {
  const first = buildRegions(vmas, claims, stackPointers);
  const base: Category[] = new Array<Category>(vmas.length);
  for (const r of first) {
    // a VMA malloc claims any part of stays malloc's: the runtimes never split a VMA
    if (r.category === 'arena' || r.category === 'mmap-chunk' || base[r.vma] === undefined) base[r.vma] = r.category;
  }
  const guards = guardPages(vmas, base);
  for (const i of guards) base[i] = 'stack';
  const { claims: found, reports } = recogniseRuntimes(vmas, base, facts);
  const runtimeClaims: Claim[] = [...guards.map((i) => ({ start: vmas[i]!.start, end: vmas[i]!.end, category: 'stack' as const, rss: vmas[i]!.rss })), ...found];
  if (runtimeClaims.length === 0) return { regions: first, runtimes: reports };
  return { regions: buildRegions(vmas, [...claims, ...runtimeClaims], stackPointers), runtimes: reports };
}

/**
 * A thread stack's guard: the small PROT_NONE mapping right below it (glibc's guard page, or the
 * JVM's yellow/red zones) belongs to the stack, not to anon-other. It has no Rss; its size counts.
 */
function guardPages(vmas: readonly Vma[], base: readonly Category[]): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < vmas.length; i++) {
    const v = vmas[i]!;
    if (base[i] === 'anon-other' && base[i + 1] === 'stack' && v.pathname === '' && v.perms.startsWith('---') && v.size <= 64 * 1024 && v.end === vmas[i + 1]!.start) {
      out.push(i);
    }
  }
  return out;
}

/** Kernel figures of a set of regions, for a breakdown row. */
export function regionFigures(regions: readonly Region[]): KernelFigures {
  return sumFigures(regions.map((r) => r.kernel));
}

/**
 * rss.uss and rss.lazyFree: from smaps_rollup read after detach where the capture has it (what the
 * process is left with, what anyone reading it afterwards sees), else summed from the VMAs.
 */
export function processKernel(vmas: readonly Vma[], rollupAfter?: string | null): { uss: number; lazyFree: number } {
  if (rollupAfter) {
    const r = parseRollup(rollupAfter);
    return { uss: r.privateClean + r.privateDirty, lazyFree: r.lazyFree };
  }
  const { uss, lazyFree } = processFigures(vmas);
  return { uss, lazyFree };
}

export function mappedFiles(vmas: readonly Vma[]): FileRow[] {
  return fileRows(vmas, (v) => !isShmem(v) && (v.inode !== 0 || v.pathname.startsWith('/')));
}

export type { CgroupReport };
