// glibcAnalyser on the real captures: malloc_info figures, heaps as heaps, and the targets' own truth.
import { describe, expect, it } from 'vitest';
import { parseMallocInfo } from '../../../src/allocators/glibc/malloc-info.js';
import { analyse } from '../../../src/analyse/inspect.js';
import { parseSmaps } from '../../../src/parse/smaps.js';
import type { ArenaReport, InspectReport, Vma } from '../../../src/types.js';
import { HEAP_MAX, fixtureSnapshot, layoutFromTruth, readmeFigures, truthOf } from '../../fixture-snapshot.js';
import { CAPTURES, fixture } from '../../fixtures.js';

const hex = (n: bigint) => `0x${n.toString(16)}`;
const vmasOf = (name: string) => parseSmaps(fixture(name, 'smaps'));
const inspect = async (name: string, layout = false): Promise<InspectReport> =>
  analyse(await fixtureSnapshot(name, layout ? { layout: layoutFromTruth(name) } : {}));
const owner = (r: InspectReport, base: string): ArenaReport | undefined => r.arenas.find((a) => a.heaps.some((h) => h.start === base));

/** A heap entry must be exactly what smaps says of its address range. */
function expectHeapMatchesSmaps(heap: ArenaReport['heaps'][number], vmas: Vma[]): void {
  const [start, end] = [BigInt(heap.start), BigInt(heap.end)];
  const inside = vmas.filter((v) => v.start >= start && v.start < end);
  expect(heap.size).toBe(Number(end - start));
  expect(heap.vmas).toEqual(inside.map((v) => ({ start: hex(v.start), end: hex(v.end), rss: v.rss, perm: v.perms })));
  expect(heap.rss).toBe(inside.reduce((s, v) => s + v.rss, 0));
  expect(heap.mappedBytes).toBe(inside.filter((v) => v.perms.startsWith('rw')).reduce((s, v) => s + Number(v.end - v.start), 0));
}

describe.each(CAPTURES)('glibc analyse: %s', (name) => {
  it('arena figures are the README\'s figures derived from malloc_info', async () => {
    const r = await inspect(name);
    const rows = readmeFigures(name);
    expect(r.arenas.map((a) => a.index)).toEqual(rows.map((x) => x.nr));
    for (const [i, row] of rows.entries()) {
      const a = r.arenas[i]!;
      const { nr: _, ...figures } = row;
      expect({ system: a.systemBytes, top: a.topBytes, free: a.freeBytes, inUse: a.inUseBytes }).toEqual(figures);
      expect(a.heldFreeRssBytes).toBe(Math.max(0, a.rssBytes - a.inUseBytes));
      expect(a.rssBytes).toBe(a.heaps.reduce((s, h) => s + h.rss, 0));
    }
  });

  it('main arena is one [heap] entry; a thread heap is one 64 MiB-aligned block with its VMAs', async () => {
    const r = await inspect(name);
    const vmas = vmasOf(name);
    const brk = vmas.filter((v) => v.pathname === '[heap]');
    const main = r.arenas[0]!;
    expect(main.kind).toBe('main');
    expect(main.heaps).toHaveLength(1);
    expect([main.heaps[0]!.start, main.heaps[0]!.end]).toEqual([hex(brk[0]!.start), hex(brk.at(-1)!.end)]);
    expectHeapMatchesSmaps(main.heaps[0]!, vmas);
    const info = parseMallocInfo(fixture(name, 'malloc-info.xml'));
    const bases = new Set<string>();
    for (const a of r.arenas.slice(1)) {
      expect(a.kind).toBe('thread');
      for (const h of a.heaps) {
        expect(BigInt(h.start) % BigInt(HEAP_MAX)).toBe(0n);
        expect(h.size).toBe(HEAP_MAX);
        expect(bases.has(h.start)).toBe(false); // no block is given to two arenas
        bases.add(h.start);
        expectHeapMatchesSmaps(h, vmas);
      }
      // Inferred: a single-heap arena's block starts with a rw VMA as long as its `aspace mprotect`.
      if (a.heaps.length === 1) expect(a.heaps[0]!.mappedBytes).toBe(info.heaps[a.index]!.aspaceMprotect);
    }
  });
});

describe('glibc analyse against the targets\' truth.json', () => {
  it('pinned-threads: each thread\'s heap base, pinned flag and live bytes', async () => {
    const truth = truthOf('pinned-threads');
    const r = await inspect('pinned-threads');
    expect(r.target.threads).toBe(truth.threads.length + 1);
    expect(r.arenas.flatMap((a) => a.heaps.map((h) => h.start)).slice(1).sort()).toEqual(truth.threads.flatMap((t) => t.heapBases).sort());
    for (const t of truth.threads) {
      const a = owner(r, t.heapBases[0]!)!;
      expect(a.pinnedTop).toBe(t.pinned);
      expect(a.inUseBytes).toBe(t.liveBytes + 2912); // + tcache struct 656 + heap_info/malloc_state 2256 (README)
      // Pinned: every freed byte is still resident. Unpinned: heap_trim gave it back.
      if (t.pinned) expect(a.heldFreeRssBytes).toBeGreaterThanOrEqual(t.freedBytes);
      else expect(a.heldFreeRssBytes).toBeLessThan(t.freedBytes / 64);
    }
    expect(r.arenas[0]!.pinnedTop).toBe(truth.main.pinned);
  });

  it('single-thread: main arena in use = live + tcache + FILE, all freed memory resident', async () => {
    const truth = truthOf('single-thread');
    const r = await inspect('single-thread');
    const main = r.arenas[0]!;
    expect(r.target.threads).toBe(1);
    expect(main.inUseBytes).toBe(truth.main.liveBytes + 656 + 544);
    expect(main.pinnedTop).toBe(truth.main.pinned);
    expect(Math.abs(main.heldFreeRssBytes - truth.main.freedBytes)).toBeLessThan(truth.main.freedBytes / 100);
  });

  it('mmap-chunks: count and bytes of the mmapped chunks', async () => {
    const truth = truthOf('mmap-chunks');
    const r = await inspect('mmap-chunks');
    expect({ count: r.mmapChunks.count, bytes: r.mmapChunks.bytes }).toEqual(truth.mmap);
    // truth says pinned, but only 131040 B sit free in bins (< the 128 KiB trim threshold): not a pinned top.
    expect(r.arenas[0]!.binFreeBytes).toBe(131040);
    expect(r.arenas[0]!.pinnedTop).toBe(false);
  });

  it('multi-heap without the arena ring: the 3-heap arena stays unjoined and says so', async () => {
    const r = await inspect('multi-heap');
    expect(r.arenas[1]!.join).toBe('inferred');
    expect(r.arenas[1]!.heaps).toEqual([]);
    expect(r.findings.map((f) => f.kind)).toEqual(['inferred-join']);
  });

  it('multi-heap with the arena ring: three heaps whose rw parts add up to system current', async () => {
    const truth = truthOf('multi-heap');
    const r = await inspect('multi-heap', true);
    const a = r.arenas[1]!;
    expect(r.target.threads).toBe(truth.threads.length + 1);
    expect(a.join).toBe('memory');
    expect(a.address).toBe(hex(BigInt(truth.threads[0]!.heapBases[0]!) + 0x30n));
    expect(a.heaps.map((h) => h.start)).toEqual(truth.threads[0]!.heapBases);
    expect(a.heaps.map((h) => h.mappedBytes)).toEqual([67063808, 23207936, 67063808]);
    expect(a.heaps.reduce((s, h) => s + h.mappedBytes!, 0)).toBe(a.systemBytes);
    expect(a.inUseBytes).toBe(truth.threads[0]!.liveBytes + 3072);
    expect(a.pinnedTop).toBe(truth.threads[0]!.pinned);
    expect(r.findings).toEqual([]);
  });

  it('an arena ring of another length than malloc_info: joined by size, with a note', async () => {
    const layout = layoutFromTruth('pinned-threads');
    const r = analyse(await fixtureSnapshot('pinned-threads', { layout: { ...layout, arenas: layout.arenas.slice(0, 3) } }));
    expect(r.notes).toEqual(['an arena was created between malloc_info and the arena ring read (5 vs 3); heaps were joined by size']);
    expect(r.arenas.slice(1).every((a) => a.join === 'inferred')).toBe(true);
  });
});

describe('glibc analyse: what malloc_trim(0) is predicted to return, per arena', () => {
  it('single-thread, by hand: whole pages inside each free chunk past its header, plus the top beyond MINSIZE', async () => {
    // 999 bin chunks of 16400 B and one unsorted of 15856 B keep 48 B + half a page on average: 3 pages each;
    // the 16496-byte top keeps MINSIZE + 1: 4 pages.
    const main = (await inspect('single-thread')).arenas[0]!;
    expect(main.predictedTrimBytes).toBe(1000 * 3 * 4096 + 4 * 4096);
  });
  it('the main top keeps MINSIZE + 1 bytes: 4 pages + 32 B of top gives 3 pages back, 4 pages + 33 B gives 4', async () => {
    const withTop = async (top: number) => {
      const snap = await fixtureSnapshot('single-thread');
      const xml = snap.sections.glibc!.mallocInfo.replaceAll('<total type="rest" count="1001" size="16416952"/>', `<total type="rest" count="1001" size="${16400456 + top}"/>`);
      const main = analyse({ ...snap, sections: { glibc: { ...snap.sections.glibc!, mallocInfo: xml } } }).arenas[0]!;
      expect(main.topBytes).toBe(top);
      return main.predictedTrimBytes - 999 * 3 * 4096 - 3 * 4096;
    };
    expect(await withTop(4 * 4096 + 32)).toBe(3 * 4096);
    expect(await withTop(4 * 4096 + 33)).toBe(4 * 4096);
  });
  const expected: Record<string, number[]> = {
    'jvm-many-threads': [5304320, 5791744, 6144000, 7086080, 7520256, 7323648, 7323648, 7933952, 7544832, 7630848, 7933952, 5378048, 5431296, 4550656, 4857856, 5484544],
    'mmap-chunks': [4096],
    'multi-heap': [2608, 0], // main: capped at its held-free Rss
    'node-http-server-after-load': [4558464, 0, 0, 4096, 0, 0, 0, 0, 8192, 0],
    'pinned-threads': [13084352, 0, 0, 13078528, 13078528],
    'python3-http-server-after-load': [118784, 0, 0, 81920, 0, 0, 0, 0, 0],
    'single-thread': [12304384],
  };
  it.each(CAPTURES)('%s', async (name) => {
    const r = await inspect(name);
    expect(r.arenas.map((a) => a.predictedTrimBytes)).toEqual(expected[name]);
    expect(r.arenas.every((a) => a.predictedTrimBytes <= a.heldFreeRssBytes)).toBe(true);
  });
});

describe('glibc analyse: the findings of each capture (kind, severity, bytes)', () => {
  const expected: Record<string, [string, string, number | null][]> = {
    'jvm-many-threads': [
      ['held-free-gap', 'critical', 111664080], ['pinned-top', 'warn', 110838896], ['thread-top-resident', 'info', 3642832],
      ['arena-count', 'warn', 96982752], ['inferred-join', 'warn', null],
      // the runtime layer: a JVM over glibc can trim its native heap itself (the held-free bytes)
      ['jvm-native-trim', 'warn', 111664080],
    ],
    'mmap-chunks': [['mmap-chunks', 'info', 42106880]],
    'multi-heap': [['inferred-join', 'warn', null]],
    'node-http-server-after-load': [
      ['held-free-gap', 'info', 11232576], ['pinned-top', 'info', 4810688], ['thread-top-resident', 'info', 6652992],
      ['arena-count', 'info', 5957056], ['inferred-join', 'warn', null],
    ],
    'pinned-threads': [
      ['held-free-gap', 'warn', 39516448], ['pinned-top', 'warn', 39241904], ['arena-count', 'info', 13348864], ['inferred-join', 'warn', null],
    ],
    'python3-http-server-after-load': [['held-free-untrimmable', 'info', 1265056], ['inferred-join', 'warn', null]],
    'single-thread': [['held-free-gap', 'warn', 16399568], ['pinned-top', 'info', 16399456]],
  };
  it.each(CAPTURES)('%s', async (name) => {
    const r = await inspect(name);
    expect(r.findings.map((f) => [f.kind, f.severity, f.bytes])).toEqual(expected[name]);
  });
});
