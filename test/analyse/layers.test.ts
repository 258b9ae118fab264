import { describe, expect, it } from 'vitest';
import { layeredRegions } from '../../src/analyse/layers.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { parseHsperfdata } from '../../src/runtimes/jvm/hsperfdata.js';
import { fixture } from '../fixtures.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../fixtures.js';

describe('layeredRegions', () => {
  const vmas = parseSmaps(fixture('jvm-idle-g1', 'smaps'));
  const counters = parseHsperfdata(readFileSync(join(FIXTURES, 'jvm-idle-g1', 'hsperfdata')));
  const { regions, runtimes } = layeredRegions(vmas, [], [], { cmdline: [], hsperfdata: { path: 'x', counters } });

  it('gives every VMA exactly its Rss, once, and leaves no anonymous memory unexplained in a JVM', () => {
    expect(regions.reduce((s, r) => s + r.rss, 0)).toBe(vmas.reduce((s, v) => s + v.rss, 0));
    expect(new Set(regions.map((r) => r.vma)).size).toBe(vmas.length);
    expect(regions.length).toBe(vmas.length); // no claim split a VMA
    expect(regions.filter((r) => r.category === 'anon-other')).toEqual([]);
    expect(runtimes.map((r) => r.runtime)).toEqual(['jvm']);
  });

  it('puts a thread stack\'s guard pages with the stack', () => {
    const guards = regions.filter((r, i) => vmas[i]!.perms.startsWith('---') && vmas[i]!.size <= 65536 && regions[i + 1]?.category === 'stack' && vmas[i]!.end === vmas[i + 1]!.start && vmas[i]!.pathname === '');
    expect(guards.length).toBeGreaterThan(5);
    for (const g of guards) expect(g.category).toBe('stack');
  });
});
