import { describe, expect, it } from 'vitest';
import { parseSmaps } from '../../src/parse/smaps.js';
import { HeapgapError } from '../../src/errors.js';
import { CAPTURES, fixture } from '../fixtures.js';

const rollupKb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)![1]) * 1024;

describe('parseSmaps', () => {
  it.each(CAPTURES)('%s: VMAs parse and sum to the kernel rollup', (name) => {
    const vmas = parseSmaps(fixture(name, 'smaps'));
    const rollup = fixture(name, 'smaps_rollup');
    expect(vmas.length).toBeGreaterThan(10);
    const sum = (f: (v: (typeof vmas)[number]) => number) => vmas.reduce((s, v) => s + f(v), 0);
    // captured one after the other from an idle process: equal up to a few pages
    expect(Math.abs(sum((v) => v.rss) - rollupKb(rollup, 'Rss'))).toBeLessThanOrEqual(64 * 1024);
    expect(Math.abs(sum((v) => v.anonymous) - rollupKb(rollup, 'Anonymous'))).toBeLessThanOrEqual(64 * 1024);
    for (const v of vmas) {
      expect(v.size).toBe(Number(v.end - v.start));
      expect(v.rss).toBeLessThanOrEqual(v.size);
    }
    expect(vmas.filter((v) => v.pathname === '[heap]').length).toBeLessThanOrEqual(1);
  });

  it('parses /proc/PID/maps lines (no fields) too', () => {
    const vmas = parseSmaps(fixture('pinned-threads', 'maps'));
    expect(vmas.length).toBeGreaterThan(10);
    expect(vmas.every((v) => v.rss === 0)).toBe(true);
  });

  it('says which line is wrong and what it expected', () => {
    const bad = '00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nRss:  4 kB\nthis is not smaps\n';
    expect(() => parseSmaps(bad)).toThrow(HeapgapError);
    expect(() => parseSmaps(bad)).toThrow(/smaps line 3: expected .*got "this is not smaps"/);
    expect(() => parseSmaps('Rss: 4 kB\n')).toThrow(/line 1: expected a VMA header before its fields/);
  });
});
