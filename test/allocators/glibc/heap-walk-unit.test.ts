// The heap walk, mp_ search and page map on heaps laid out in memory the way glibc lays them out
// (chunk headers, PREV_INUSE, feet), so each check can be made to fail on purpose.
import { describe, expect, it } from 'vitest';
import { walkArena } from '../../../src/allocators/glibc/heap-walk.js';
import type { MemorySource } from '../../../src/allocators/glibc/block-reader.js';
import { MALLOC_PAR_LAYOUTS, findMallocPar, pickMallocPar } from '../../../src/allocators/glibc/malloc-par.js';
import { pageMap, parseRuns } from '../../../src/allocators/glibc/page-map.js';

const START = 0x5555_0000_0000;
const PAGE = 4096;

/** A main-arena heap: chunks of [size, live] from START, then the top chunk to `pages` pages. */
function heap(chunks: [number, boolean][], pages: number, present = (_: number) => true) {
  const buf = Buffer.alloc(pages * PAGE);
  let at = 0;
  let prevLive = true;
  for (const [size, live] of chunks) {
    buf.writeBigUInt64LE(BigInt(size | (prevLive ? 1 : 0)), at + 8);
    if (!live) buf.writeBigUInt64LE(BigInt(size), at + size); // the foot: next chunk's prev_size
    prevLive = live;
    at += size;
  }
  const top = START + at;
  buf.writeBigUInt64LE(BigInt((pages * PAGE - at) | 1), at + 8);
  const src: MemorySource = {
    readInto: (addr, out, length) => buf.copy(out, 0, addr - START, Math.min(buf.length, addr - START + length)),
    presentPages: (first, n) => Uint8Array.from({ length: n }, (_, i) => (present(first + i - START / PAGE) ? 1 : 0)),
  };
  return { src, buf, geometry: () => ({ top, systemMem: pages * PAGE, spans: [{ start: START, end: START + pages * PAGE, first: START }] }) };
}

describe('walkArena', () => {
  it('finds the live chunks above the highest large free chunk, highest first, with the free bytes below', () => {
    const h = heap([[0x290, true], [0x20000, false], [0x1010, true], [0x30000, false], [0x40, true], [0x2010, true], [0x100, false], [0x30, true]], 200);
    const w = walkArena(h.src, h.geometry, { main: true, pad: 0 });
    expect(w.complete).toBe(true);
    const base = START + 0x290 + 0x20000 + 0x1010 + 0x30000;
    expect(w.pinning).toEqual([
      { address: base + 0x40 + 0x2010 + 0x100 + 16, size: 0x30, freeBelowBytes: 0x50100 },
      { address: base + 0x40 + 16, size: 0x2010, freeBelowBytes: 0x50000 },
      { address: base + 16, size: 0x40, freeBelowBytes: 0x50000 },
    ]);
    expect(w.pinnedFreeBytes).toBe(0x50000);
    expect([w.liveChunks, w.freeChunks]).toEqual([5, 3]);
  });

  it('counts only resident free pages as pinned and trimmable, as mtrim would madvise them', () => {
    const released = (page: number) => page < 2 || page > 40; // the 0x20000 free chunk's interior is gone
    const h = heap([[0x1000, true], [0x20000, false], [0x100, true]], 64, released);
    // pad larger than the top: systrim would keep all of it, so only the free chunk counts.
    const w = walkArena(h.src, h.geometry, { main: true, pad: 64 * PAGE });
    expect(w.complete).toBe(true);
    expect(w.pinning.map((p) => p.size)).toEqual([0x100]);
    expect(w.pinnedResidentBytes).toBe(PAGE); // the chunk's header page, which mtrim keeps too
    expect(w.trimmableBytes).toBe(0);
    const kept = walkArena(heap([[0x1000, true], [0x20000, false], [0x100, true]], 64).src, h.geometry, { main: true, pad: 0 });
    // mtrim keeps the chunk's first 48 bytes: pages 2..32 of the 0x20000 bytes at 0x1000 go; systrim
    // takes the top (0x1ef00 bytes from 0x21100) minus MINSIZE + 1, rounded down: 30 pages.
    expect(kept.trimmableBytes).toBe((31 + 30) * PAGE);
    expect(kept.pinnedResidentBytes).toBe(0x20000);
  });

  it('is incomplete, never wrong, when a size breaks the chain or a foot does not match', () => {
    const h = heap([[0x290, true], [0x20000, false], [0x100, true]], 64);
    h.buf.writeBigUInt64LE(0x20290n, 0x290 + 0x20000); // a wrong foot under the live chunk
    const w = walkArena(h.src, h.geometry, { main: true, pad: 0, attempts: 2 });
    expect(w.complete).toBe(false);
    expect(w.attempts).toBe(2);
    expect(w.problem).toMatch(/foot/);
    const g = heap([[0x290, true], [0x100, true]], 8);
    g.buf.writeBigUInt64LE(0x7fff_fff1n, 0x298); // a size running off the heap
    expect(walkArena(g.src, g.geometry, { main: true, pad: 0 }).problem).toMatch(/has size/);
  });

  it('reads a page per header among large chunks and large blocks among small ones, with the same figures', () => {
    const counted = (chunks: [number, boolean][], pages: number) => {
      const h = heap(chunks, pages);
      const calls: number[] = [];
      const src: MemorySource = { ...h.src, readInto: (addr, out, length) => (calls.push(length), h.src.readInto(addr, out, length)) };
      return { w: walkArena(src, h.geometry, { main: true, pad: 0 }), calls };
    };
    // 40 live blocks of 32 KiB (an idle thread's heap): their bodies are never read
    const large = counted(Array.from({ length: 40 }, (): [number, boolean] => [0x8010, true]), 400);
    expect(large.w.complete).toBe(true);
    expect(large.w.liveChunks).toBe(40);
    expect(large.w.liveBytes).toBe(40 * 0x8010);
    expect(large.calls.length).toBeLessThanOrEqual(42);
    expect(large.w.readBytes).toBeLessThanOrEqual(42 * PAGE);
    // 2,000 chunks of malloc(4096) (4112 bytes): no header is in the page before it, yet the walk
    // skips less than it reads: the blocks grow, not one read per chunk
    const pageSized = counted(Array.from({ length: 2000 }, (): [number, boolean] => [0x1010, true]), 2100);
    expect(pageSized.w.complete).toBe(true);
    expect(pageSized.w.liveChunks).toBe(2000);
    expect(pageSized.calls.length).toBeLessThan(40);
    // 8,000 chunks of 48 bytes: doubling reads, not one per header
    const small = counted(Array.from({ length: 8000 }, (_, i): [number, boolean] => [0x30, i % 3 !== 1]), 120);
    expect(small.w.complete).toBe(true);
    expect([small.w.liveChunks, small.w.freeChunks]).toEqual([5334, 2666]);
    expect(small.calls.length).toBeLessThan(20);
    expect(Math.max(...small.calls)).toBeGreaterThanOrEqual(32 * PAGE);
  });

  it('reports nothing pinning when the free memory is in small holes only', () => {
    const h = heap([[0x290, true], [0x1000, false], [0x100, true], [0x800, false], [0x100, true]], 16);
    const w = walkArena(h.src, h.geometry, { main: true, pad: 0 });
    expect(w.complete).toBe(true);
    expect(w.pinning).toEqual([]);
  });
});

describe('page map', () => {
  it('classifies pages and round-trips its runs', () => {
    const h = heap([[0x1000, true], [0x8000, false], [0x1000, true]], 16, (p) => p !== 5);
    const w = walkArena(h.src, h.geometry, { main: true, pad: 0 });
    const m = pageMap(w.heaps[0]!);
    // page 0 and page 9 hold the live chunks; page 5 (inside the free chunk) is not resident.
    expect([m.livePages, m.freeResidentPages, m.freeReleasedPages]).toEqual([2, 13, 1]);
    expect(m.runs).toBe('L1R4F1R3L1R6');
    expect(m.topStart).toBe(`0x${(START + 0xa000).toString(16)}`);
    expect(parseRuns(m.runs).reduce((s, [, n]) => s + n, 0) * m.unitPages).toBe(m.pages);
  });
});

describe('findMallocPar', () => {
  it('finds mp_ by its invariants and breaks an 8-byte-shift tie by the glibc version', () => {
    const buf = Buffer.alloc(4096, 0);
    const o = 0x340;
    const u64 = (at: number, v: number | bigint) => buf.writeBigUInt64LE(BigInt(v), o + at);
    // 2.35+ layout, threshold fixed by the environment (no_dyn_threshold = 1)
    u64(0, 131072); u64(8, 131072); u64(16, 131072); u64(24, 8);
    buf.writeInt32LE(1, o + 60); buf.writeInt32LE(65536, o + 64); buf.writeInt32LE(64, o + 68); buf.writeInt32LE(1, o + 72);
    u64(80, 1052672); u64(88, 67371008); u64(96, 0x5555_0000_0000n); u64(104, 64); u64(112, 1032); u64(120, 7);
    const hits = findMallocPar(buf, 0x7f00_0000_0000n, { heapStart: 0x5555_0000_0000n, mmap: { count: 1, size: 1052672 }, heapMax: 64 << 20 });
    expect(hits.length).toBeGreaterThanOrEqual(1);
    const pick = pickMallocPar(hits, '2.36');
    expect(pick).toMatchObject({ address: `0x${(0x7f00_0000_0000 + o).toString(16)}`, mmapThreshold: 131072, mmapThresholdDynamic: false, nMmaps: 1, arenaTest: 8 });
    // A different [heap]: nothing fits.
    expect(findMallocPar(buf, 0x7f00_0000_0000n, { heapStart: 0x5556_0000_0000n, mmap: null, heapMax: 64 << 20 })).toEqual([]);
    // Dynamic (no_dyn 0) with trim != 2 x mmap: not a malloc_par glibc could have written.
    buf.writeInt32LE(0, o + 72); u64(16, 4198400);
    expect(pickMallocPar(findMallocPar(buf, 0x7f00_0000_0000n, { heapStart: 0x5555_0000_0000n, mmap: null, heapMax: 64 << 20 }), '2.36')).toBeNull();
  });
  it('finds each layout wherever it begins in the data, and only there', () => {
    const heapStart = 0x5555_1234_5000n;
    for (const layout of MALLOC_PAR_LAYOUTS) {
      for (const o of [0, 8, 0x88, 0x1f00 - layout.size]) {
        const buf = Buffer.alloc(0x1f00, 0);
        // the heap's start elsewhere too: unaligned, and aligned where no layout's fields hold
        buf.writeBigUInt64LE(heapStart, 0x1e03);
        buf.writeBigUInt64LE(heapStart, 0x1e40);
        buf.writeBigUInt64LE(heapStart, 0x1e50);
        const u64 = (at: number, v: number | bigint) => buf.writeBigUInt64LE(BigInt(v), o + at);
        u64(layout.trimThreshold, 262144); u64(layout.topPad, 131072); u64(layout.mmapThreshold, 131072); u64(layout.arenaTest, 8);
        buf.writeInt32LE(2, o + layout.nMmaps); buf.writeInt32LE(65536, o + layout.nMmapsMax); buf.writeInt32LE(9, o + layout.maxNMmaps); buf.writeInt32LE(0, o + layout.noDynThreshold);
        u64(layout.mmappedMem, 2 * 266240); u64(layout.maxMmappedMem, 9 * 266240); u64(layout.sbrkBase, heapStart);
        if (layout.tcache !== null) { u64(layout.tcache, 64); u64(layout.tcache + 8, 1032); u64(layout.tcache + 16, 7); }
        const hits = findMallocPar(buf, 0x7f00_0000_0000n, { heapStart, mmap: { count: 2, size: 2 * 266240 }, heapMax: 64 << 20 });
        const mine = hits.filter((h) => h.layout === layout.name);
        expect(mine.map((h) => h.address), `${layout.name} at ${o}`).toEqual([`0x${(0x7f00_0000_0000 + o).toString(16)}`]);
        expect(mine[0]!.confirmedBy).toHaveLength(2);
        // every hit, of any layout, is at a place whose sbrk_base holds the heap's start
        for (const h of hits) {
          const at = Number(BigInt(h.address) - 0x7f00_0000_0000n) + MALLOC_PAR_LAYOUTS.find((l) => l.name === h.layout)!.sbrkBase;
          expect(buf.readBigUInt64LE(at)).toBe(heapStart);
        }
      }
    }
  });
});
