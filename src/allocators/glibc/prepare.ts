/**
 * glibc malloc, collect side. Before attach: the heap candidates, struct offsets and function
 * addresses stop.py needs. After detach: the ranges glibc owns and what a trim would release.
 */
import { fileURLToPath } from 'node:url';
import type { LibcImage } from '../../collect/elf.js';
import type { ProcMemory } from '../../collect/memory.js';
import { readOptional } from '../../collect/procfs.js';
import { tunable } from '../../parse/environ.js';
import type { Vma } from '../../types.js';
import { hex } from '../../units.js';
import type { Collector, Measured, Prepared, Target } from '../types.js';
import { arenaClaims, mmapChunkClaims } from './claims.js';
import { findMainArena, measureTrimmable } from './free-chunks.js';
import type { ArenaWhere } from './free-chunks.js';
import { DEFAULT_HEAP_MAX, layoutFor, versionAtLeast } from './layout.js';
import type { GlibcLayout, GlibcSection } from './section.js';

const STOP_PY = fileURLToPath(new URL('../../../src/allocators/glibc/stop.py', import.meta.url));
/** Symbols whose code a calling thread must not be inside (they take arena locks). */
const CALLS = ['malloc_info', 'malloc_trim'];

export const glibcCollector: Collector<GlibcSection> = {
  name: 'glibc',
  async prepare(t: Target): Promise<Prepared<GlibcSection>> {
    const { image, base } = t.libc;
    const heapMax = await heapMaxFor(image.version, t.env);
    // Anonymous VMAs aligned like a thread-arena heap: where heap_info blocks may start.
    const candidates = t.maps.filter((v) => v.pathname === '' && v.start % BigInt(heapMax) === 0n).map((v) => v.start);
    const addr: Record<string, string> = {};
    for (const name of CALLS) {
      const sym = image.symbols.get(name);
      if (sym) addr[name] = hex(base + sym.value);
    }
    const layout = layoutFor(image.version, heapMax);
    return {
      plan: {
        name: 'glibc',
        calls: 'malloc_info',
        script: STOP_PY,
        params: { addr, layout, heapCandidates: candidates.map(hex) },
        forbiddenRanges: [],
      },
      notes: [],
      async measure(raw: unknown, m: Measured): Promise<GlibcSection> {
        const stop = raw as { mallocInfo: string; layout: GlibcLayout };
        const claims = [...(await arenaClaims(m.vmas, stop.layout.arenas, candidates, heapMax, m.memory)), ...(await mmapChunkClaims(m.vmas, candidates, heapMax, m.memory))];
        const trimmable = m.mode === 'inspect' ? await trimmableOf(m.vmas, stop.layout.arenas, stop.mallocInfo, base, image, heapMax, m.memory, m.pad) : [];
        return { heapMax, mallocInfo: stop.mallocInfo, layout: stop.layout, claims, ...(trimmable.length > 0 ? { trimmable } : {}) };
      },
    };
  },
};

/** HEAP_MAX_SIZE: 64 MiB on 64-bit, or 4 x the huge page size with glibc.malloc.hugetlb >= 2 (2.35+). */
async function heapMaxFor(version: string | null, env: Record<string, string>): Promise<number> {
  const hugetlb = tunable(env, 'hugetlb');
  if (hugetlb !== null && hugetlb >= 2 && versionAtLeast(version, 2, 35)) {
    const meminfo = (await readOptional('/proc/meminfo')) ?? '';
    const kb = /^Hugepagesize:\s+(\d+) kB/m.exec(meminfo)?.[1];
    if (kb) return Math.max(DEFAULT_HEAP_MAX, 4 * Number(kb) * 1024);
  }
  return DEFAULT_HEAP_MAX;
}

/** Arenas located for the free-list walk: thread arenas from the ring, main from the ring or libc. */
async function trimmableOf(vmas: Vma[], arenas: { index: number; address: string; heaps: { start: string }[] }[], mallocInfo: string, base: bigint, image: LibcImage, heapMax: number, memory: ProcMemory, pad: number) {
  const layout = layoutFor(image.version, heapMax);
  if (!layout || !memory.canRead || !memory.canCountPages) return [];
  const heap = vmas.filter((v) => v.pathname === '[heap]').map((v) => [v.start, v.end] as [bigint, bigint]);
  let main = arenas[0] ? BigInt(arenas[0].address) : null;
  const rw = image.segments.find((s) => s.flags & 2);
  if (main === null && rw) {
    const systemMem = Number(/<heap nr="0">[\s\S]*?<system type="current" size="(\d+)"/.exec(mallocInfo)?.[1] ?? -1);
    main = await findMainArena(memory, [base + rw.vaddr, base + rw.vaddr + BigInt(rw.memsz)], layout, systemMem);
  }
  const where: ArenaWhere[] = [];
  if (main !== null) where.push({ index: 0, address: main, ranges: heap });
  for (const a of arenas.slice(1)) where.push({ index: a.index, address: BigInt(a.address), ranges: a.heaps.map((h) => [BigInt(h.start), BigInt(h.start) + BigInt(heapMax)] as [bigint, bigint]) });
  return measureTrimmable(memory, where, { top: layout.top, bins: layout.top + 16 }, pad);
}

