import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { analyse } from '../../src/analyse/inspect.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { upgradeCapture } from '../../src/snapshot.js';
import type { Snapshot } from '../../src/snapshot.js';
import { CAPTURES, FIXTURES, fixture } from '../fixtures.js';

const HEAP_MAX = 64 * 1024 * 1024;

/** A capture without memory reads: what `report` sees from an old or unprivileged capture. */
function snapshotOf(name: string): Snapshot {
  const smaps = fixture(name, 'smaps');
  const vmas = parseSmaps(smaps);
  const claims = vmas
    .filter((v) => v.pathname === '' && v.start % BigInt(HEAP_MAX) === 0n)
    .flatMap((head) => vmas.filter((v) => v.start >= head.start && v.end <= head.start + BigInt(HEAP_MAX)))
    .map((v) => ({ start: `0x${v.start.toString(16)}`, end: `0x${v.end.toString(16)}`, category: 'arena' as const, rss: v.rss, arena: null }));
  return upgradeCapture({
    schema: 'heapgap.capture/1', heapgapVersion: 'test', takenAt: '2026-11-23T00:00:00Z', pid: 1, comm: name, cpus: 2,
    allocator: 'glibc', allocatorEvidence: null, glibcVersion: '2.36', env: {}, heapMax: HEAP_MAX,
    raw: { smaps, status: fixture(name, 'status'), mallocInfo: fixture(name, 'malloc-info.xml') },
    layout: null, claims, stackPointers: [], pause: null, notes: [],
  });
}

describe('analyse on real captures', () => {
  it.each(CAPTURES)('%s: every byte of Rss is attributed once; arena figures are consistent', (name) => {
    const r = analyse(snapshotOf(name));
    expect(r.breakdown.reduce((s, b) => s + b.rss, 0)).toBe(r.rss.total);
    expect(r.rss.anon + r.rss.file + r.rss.shmem).toBe(r.rss.total);
    for (const a of r.arenas) {
      expect(a.inUseBytes + a.freeBytes).toBe(a.systemBytes);
      expect(a.fastFreeBytes + a.binFreeBytes + a.topBytes).toBe(a.freeBytes);
      expect(a.heldFreeRssBytes).toBe(Math.max(0, a.rssBytes - a.inUseBytes));
      expect(a.predictedTrimBytes).toBeLessThanOrEqual(a.heldFreeRssBytes);
    }
    expect(r.arenas[0]!.kind).toBe('main');
    expect(r.totals.rssBytes).toBe(r.arenas.reduce((s, a) => s + a.rssBytes, 0));
    const arenaRow = r.breakdown.find((b) => b.category === 'arena')!;
    expect(arenaRow.rss).toBeGreaterThanOrEqual(r.totals.rssBytes);
  });

  it('pinned-threads: the size-based join finds each thread arena, in-use and pinned match the truth', () => {
    if (!existsSync(join(FIXTURES, 'pinned-threads', 'truth.json'))) return;
    const truth = JSON.parse(fixture('pinned-threads', 'truth.json')) as { threads: { heapBases: string[]; liveBytes: number; pinned: boolean }[]; main: { liveBytes: number; pinned: boolean } };
    const r = analyse(snapshotOf('pinned-threads'));
    for (const t of truth.threads) {
      const a = r.arenas.find((x) => x.heaps.some((h) => h.start === t.heapBases[0]));
      expect(a).toBeDefined();
      expect(a!.join).toBe('inferred');
      expect(a!.pinnedTop).toBe(t.pinned);
      expect(a!.inUseBytes).toBeGreaterThanOrEqual(t.liveBytes);
      expect(a!.inUseBytes).toBeLessThan(t.liveBytes * 1.02 + 16384);
    }
    expect(r.findings.map((f) => f.kind)).toContain('inferred-join');
  });

  it('jvm-many-threads: JVM memory lands in the jvm-* layers and stacks, not in arenas or anon-other', () => {
    const r = analyse(snapshotOf('jvm-many-threads'));
    const by = Object.fromEntries(r.breakdown.map((b) => [b.category, b.rss]));
    expect(by['anon-other'] ?? 0).toBe(0);
    expect(by['jvm-heap']).toBeGreaterThan(0);
    expect(by['jvm-code-cache']).toBeGreaterThan(0);
    expect(by.stack).toBeGreaterThan(0);
    expect(r.arenas.length).toBeGreaterThan(2);
  });
});
