// analyse() on the real captures: Rss figures against the kernel's own smaps_rollup, the breakdown
// summing to Rss, totals and arenaMax from the arenas, status and environment.
import { describe, expect, it } from 'vitest';
import { analyse, rssFigures } from '../../src/analyse/inspect.js';
import { CATEGORIES } from '../../src/contract.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import type { Vma } from '../../src/types.js';
import { fixtureSnapshot } from '../fixture-snapshot.js';
import { CAPTURES, fixture } from '../fixtures.js';

/** A field of /proc/PID/smaps_rollup, in bytes: the kernel's sum, taken with the same smaps. */
const rollup = (name: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fixture(name, 'smaps_rollup'))![1]) * 1024;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe.each(CAPTURES)('analyse: %s', (name) => {
  it('rss figures: total, anon and swap are the kernel\'s; anon + file + shmem = total', () => {
    const rss = rssFigures(parseSmaps(fixture(name, 'smaps')));
    expect(rss.total).toBe(rollup(name, 'Rss'));
    expect(rss.anon).toBe(rollup(name, 'Anonymous'));
    expect(rss.swap).toBe(rollup(name, 'Swap'));
    expect(Math.abs(rss.pss - rollup(name, 'Pss'))).toBeLessThan(parseSmaps(fixture(name, 'smaps')).length * 1024); // per-VMA kB rounding
    expect(rss.anon + rss.file + rss.shmem).toBe(rss.total);
  });

  it('the breakdown sums to rss.total, in contract order, each VMA counted once', async () => {
    const snap = await fixtureSnapshot(name);
    const r = analyse(snap);
    const vmas = parseSmaps(snap.raw.smaps);
    expect(sum(r.breakdown.map((b) => b.rss))).toBe(r.rss.total);
    expect(r.breakdown.map((b) => b.category)).toEqual(CATEGORIES.filter((c) => r.breakdown.some((b) => b.category === c)));
    expect(r.breakdown.every((b) => b.rss <= b.size)).toBe(true);
    // A VMA split between an arena claim and its own category counts in both rows; none is lost.
    expect(sum(r.breakdown.map((b) => b.vmas))).toBeGreaterThanOrEqual(vmas.length);
    // a JVM's CDS archive regions mapped inside its heap are java heap, not file
    const heap = r.runtimes?.flatMap((x) => x.regions).find((g) => g.category === 'jvm-heap');
    const inHeap = (v: (typeof vmas)[number]) => heap !== undefined && v.start >= BigInt(heap.start!) && v.end <= BigInt(heap.end!);
    const file = vmas.filter((v) => v.inode !== 0 && !v.pathname.startsWith('/memfd:') && !v.pathname.startsWith('/dev/shm/') && !inHeap(v));
    expect(r.breakdown.find((b) => b.category === 'file')!.rss).toBe(sum(file.map((v) => v.rss)));
    const arenaRow = r.breakdown.find((b) => b.category === 'arena')!;
    // Every arena heap is arena Rss; the row also holds unjoined blocks (a multi-heap arena when inferred).
    expect(arenaRow.rss).toBeGreaterThanOrEqual(r.totals.rssBytes);
    const blocks = snap.sections.glibc!.claims.filter((c) => c.category === 'arena');
    expect(arenaRow.rss).toBe(sum(vmas.filter((v) => v.pathname === '[heap]').map((v) => v.rss)) + sum(blocks.map((c) => c.rss)));
  });

  it('totals are the arenas\' sums; arenaMax from the arenas, status and CPUs', async () => {
    const r = analyse(await fixtureSnapshot(name));
    for (const k of ['systemBytes', 'inUseBytes', 'freeBytes', 'rssBytes', 'heldFreeRssBytes', 'predictedTrimBytes'] as const) {
      expect(r.totals[k]).toBe(sum(r.arenas.map((a) => a[k])));
    }
    const threads = Number(/^Threads:\s+(\d+)/m.exec(fixture(name, 'status'))![1]);
    expect(r.arenaMax).toEqual({ arenas: r.arenas.length, threads, cpus: 2, defaultLimit: 16, configured: null });
    expect(r.target).toMatchObject({ pid: 4242, comm: name, threads, allocator: 'glibc', allocators: ['glibc'], glibcVersion: '2.36' });
    expect(r.schema).toBe('heapgap.inspect/2');
    expect(r.arenas.every((a) => a.allocator === 'glibc' && a.purgeableBytes === a.predictedTrimBytes)).toBe(true);
  });
});

describe('rssFigures: shared memory is neither anon nor file', () => {
  it('memfd, /dev/shm, SysV and shared anonymous mappings are shmem', () => {
    const vma = (pathname: string, rss: number, anonymous: number, perms = 'rw-p', inode = 0): Vma =>
      ({ start: 0n, end: 1n, perms, offset: 0n, dev: '00:00', inode, pathname, size: rss, rss, pss: rss, anonymous, swap: 0 });
    const rss = rssFigures([
      vma('', 100 * 4096, 100 * 4096), vma('/usr/lib/libc.so.6', 30 * 4096, 2 * 4096, 'rw-p', 9), vma('/memfd:pool (deleted)', 7 * 4096, 0, 'rw-s', 3),
      vma('/dev/shm/ring', 5 * 4096, 0, 'rw-s', 4), vma('/SYSV00000000 (deleted)', 3 * 4096, 0, 'rw-s', 5), vma('', 2 * 4096, 0, 'rw-s'),
    ]);
    expect(rss).toEqual({ total: 147 * 4096, anon: 102 * 4096, file: 28 * 4096, shmem: 17 * 4096, swap: 0, pss: 147 * 4096 });
  });
});

describe('analyse: pure and repeatable', () => {
  it('the same capture gives the same report, parsed VMAs passed in or not', async () => {
    const snap = await fixtureSnapshot('node-http-server-after-load');
    const a = analyse(snap);
    expect(analyse(structuredClone(snap))).toEqual(a);
    expect(analyse(snap, { vmas: parseSmaps(snap.raw.smaps) })).toEqual(a);
  });

  it('arenaMax.configured from MALLOC_ARENA_MAX, GLIBC_TUNABLES winning; the env is reported as given', async () => {
    const env = { MALLOC_ARENA_MAX: '3', GLIBC_TUNABLES: 'glibc.malloc.arena_max=5:glibc.malloc.tcache_count=0' };
    const r = analyse(await fixtureSnapshot('single-thread', { env }));
    expect(r.arenaMax.configured).toBe(5);
    expect(r.target.env).toEqual(env);
    expect(analyse(await fixtureSnapshot('single-thread', { env: { MALLOC_ARENA_MAX: '3' } })).arenaMax.configured).toBe(3);
  });

  it('a capture without a glibc section has no arenas, and its Rss is still all attributed', async () => {
    const snap = await fixtureSnapshot('jvm-many-threads');
    const r = analyse({ ...snap, allocator: 'unknown', allocators: [], sections: {} });
    expect(r.arenas).toEqual([]);
    expect(r.findings).toEqual([]);
    expect(sum(r.breakdown.map((b) => b.rss))).toBe(r.rss.total);
    expect(r.breakdown.find((b) => b.category === 'arena')!.rss).toBe(sum(parseSmaps(snap.raw.smaps).filter((v) => v.pathname === '[heap]').map((v) => v.rss)));
  });
});
