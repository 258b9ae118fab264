import { describe, expect, it } from 'vitest';
import { parseMallocInfo } from '../../../src/allocators/glibc/malloc-info.js';
import { arenaFigures } from '../../../src/allocators/glibc/arena-figures.js';
import { CAPTURES, fixture } from '../../fixtures.js';

describe('parseMallocInfo on real captures', () => {
  it.each(CAPTURES)('%s: heaps numbered 0..n, per-heap figures add up to the totals', (name) => {
    const info = parseMallocInfo(fixture(name, 'malloc-info.xml'));
    expect(info.heaps.map((h) => h.nr)).toEqual(info.heaps.map((_, i) => i));
    expect(info.heaps.reduce((s, h) => s + h.systemCurrent, 0)).toBe(info.systemCurrent);
    expect(info.heaps.reduce((s, h) => s + (h.fast?.size ?? 0), 0)).toBe(info.totalFast!.size);
    expect(info.heaps.reduce((s, h) => s + (h.rest?.size ?? 0), 0)).toBe(info.totalRest!.size);
    expect(info.totalMmap).not.toBeNull();
    for (const h of info.heaps) {
      const f = arenaFigures(h);
      expect(f.topBytes).not.toBeNull(); // 2.36: the top chunk is in `rest`
      expect(f.inUseBytes + f.freeBytes).toBe(h.systemCurrent);
      expect(f.freeBytes).toBe(h.rest!.size - (h.rest!.count - 1) + (h.fast?.size ?? 0)); // reference §1
      if (h.nr > 0) expect(h.subheaps).toBeGreaterThanOrEqual(1);
    }
  });
});

// The variants of reference §1, written by hand from glibc's __malloc_info of each era.
const PRE_231 = `<malloc version="1">
<heap nr="0">
<sizes>
\t<size from="33" to="48" total="96" count="2"/>
\t<size from="4097" to="8193" total="12290" count="2"/>
\t<unsorted from="0" to="0" total="0" count="0"/>
</sizes>
<total type="fast" count="2" size="96"/>
<total type="rest" count="2" size="12290"/>
<system type="current" size="200704"/>
<system type="max" size="200704"/>
<aspace type="total" size="200704"/>
<aspace type="mprotect" size="200704"/>
</heap>
<total type="fast" count="2" size="96"/>
<total type="rest" count="2" size="12290"/>
<system type="current" size="200704"/>
<system type="max" size="200704"/>
<aspace type="total" size="200704"/>
<aspace type="mprotect" size="200704"/>
</malloc>`;

const MASTER = `<malloc version="1">
<heap nr="0">
<sizes>
  <size from="4097" to="8193" total="12290" count="2"/>
</sizes>
<total type="rest" count="3" size="112290"/>
<system type="current" size="200704"/>
<system type="max" size="200704"/>
<aspace type="total" size="200704"/>
<aspace type="mprotect" size="200704"/>
</heap>
<heap nr="1">
<sizes>
</sizes>
<total type="rest" count="1" size="50000"/>
<system type="current" size="135168"/>
<system type="max" size="135168"/>
<aspace type="total" size="135168"/>
<aspace type="mprotect" size="135168"/>
<aspace type="subheaps" size="1"/>
</heap>
<total type="rest" count="4" size="162290"/>
<total type="mmap" count="1" size="1052672"/>
<system type="current" size="335872"/>
<system type="max" size="335872"/>
<aspace type="total" size="335872"/>
<aspace type="mprotect" size="335872"/>
</malloc>`;

describe('format variants', () => {
  it('before 2.31 (tabs, no top in rest, no mmap total): top unknown, bin sizes corrected', () => {
    const info = parseMallocInfo(PRE_231);
    expect(info.totalMmap).toBeNull();
    const f = arenaFigures(info.heaps[0]!);
    expect(f.topBytes).toBeNull();
    expect(f.binFreeBytes).toBe(12290 - 2); // PREV_INUSE: one byte per chunk
    expect(f.fastFreeBytes).toBe(96);
    expect(f.inUseBytes).toBe(200704 - 96 - 12288);
  });

  it('master (no fastbins, subheaps, mmap total): top from rest', () => {
    const info = parseMallocInfo(MASTER);
    const main = arenaFigures(info.heaps[0]!);
    expect(main.fastFreeBytes).toBe(0);
    expect(main.topBytes).toBe(112290 - 12290);
    expect(main.freeBytes).toBe(100000 + 12288);
    const thread = arenaFigures(info.heaps[1]!);
    expect(thread.topBytes).toBe(50000);
    expect(info.heaps[1]!.subheaps).toBe(1);
    expect(info.totalMmap).toEqual({ count: 1, size: 1052672 });
  });

  it.each([
    ['', /not well-formed|expected a <malloc/],
    ['<malloc version="1"></malloc>', /at least one <heap/],
    ['<malloc version="1"><heap nr="0"><system type="current" size="-1"/></heap></malloc>', /non-negative integer, got "-1"/],
    ['<malloc version="1"><heap nr="1"><system type="current" size="1"/><system type="max" size="1"/></heap><system type="current" size="1"/><system type="max" size="1"/></malloc>', /expected heap nr="0"/],
    ['<malloc version="1"><heap nr="0">', /not well-formed/],
  ])('rejects %j clearly', (xml, message) => {
    expect(() => parseMallocInfo(xml)).toThrow(message);
  });
});
