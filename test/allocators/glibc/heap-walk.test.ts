// glibc, deeper: mp_ read from the target, the pinning chunks and the page map from the heap walk,
// checked against targets that print their own thresholds and pinning pointers, and against smaps.
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { procState, readSmaps, startTarget, stopAllTargets } from '../../helpers/targets.js';
import type { InspectReport } from '../../../src/types.js';

afterAll(stopAllTargets);

interface Pin { address: string; size: number }
interface RaisedTruth {
  glibc: { raisedBy: number | null; mmapThreshold: number | null; trimThreshold: number | null; blocksMmapped: boolean };
  pinning: Pin[];
}
interface PinnedTruth { pinning: { main: Pin[]; threads: Pin[][] } }

async function inspect(pid: number): Promise<InspectReport> {
  const r = await runCli(['inspect', String(pid), '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as InspectReport;
}

const kinds = (r: InspectReport) => r.findings.map((f) => f.kind);
const pins = (a: InspectReport['arenas'][number]) => (a.pinning ?? []).map((p) => ({ address: p.address, size: p.size }));

describe('glibc parameters, pinning chunks and page map', () => {
  it('reads the raised dynamic thresholds exactly, names the pinning chunk, and the env fix keeps the heap small', async () => {
    const t = await startTarget('raised-threshold', ['4194304', '64', '1048576']);
    const truth = JSON.parse(t.line) as RaisedTruth;
    expect(truth.glibc.blocksMmapped).toBe(false);
    const r = await inspect(t.pid);
    const g = r.allocatorStats?.glibc;
    expect(g).toBeTruthy();
    expect(g!.mmapThreshold).toBe(truth.glibc.mmapThreshold);
    expect(g!.trimThreshold).toBe(truth.glibc.trimThreshold);
    expect(g!.mmapThresholdDynamic).toBe(true);
    expect(g!.nMmaps).toBe(0);
    expect(g!.maxMmappedBytes).toBe(truth.glibc.raisedBy);
    const raised = r.findings.find((f) => f.kind === 'mmap-threshold-raised');
    expect(raised?.message).toContain(`(${truth.glibc.mmapThreshold} bytes)`);
    expect(raised?.hint).toContain('MALLOC_MMAP_THRESHOLD_=131072');
    expect(raised?.hint).toContain('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072');
    const main = r.arenas[0]!;
    expect(pins(main)).toEqual(truth.pinning);
    expect(main.pinning![0]!.freeBelowBytes).toBeGreaterThanOrEqual(63 * 1048576);
    expect(main.pinnedTop).toBe(true);
    expect(r.findings.find((f) => f.kind === 'pinned-top')?.message).toContain(truth.pinning[0]!.address);
    // The page map against the kernel: every page with a live chunk is touched, so the resident
    // pages of [heap] are exactly the live and free-resident ones.
    const heapVma = readSmaps(t.pid).find((v) => v.name === '[heap]')!;
    const map = main.pageMaps![0]!;
    expect(BigInt(map.start)).toBe(heapVma.start);
    expect(map.livePages + map.freeResidentPages + map.freeReleasedPages).toBe(map.pages);
    expect((map.livePages + map.freeResidentPages) * 4096).toBe(heapVma.rss);
    const raisedHeapRss = main.rssBytes;
    await t.stop();

    for (const env of [{ MALLOC_MMAP_THRESHOLD_: '131072' }, { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072' }]) {
      const fixed = await startTarget('raised-threshold', ['4194304', '64', '1048576'], env);
      expect((JSON.parse(fixed.line) as RaisedTruth).glibc.blocksMmapped).toBe(true);
      const f = await inspect(fixed.pid);
      expect(f.allocatorStats?.glibc).toMatchObject({ mmapThreshold: 131072, mmapThresholdDynamic: false, nMmaps: 1 });
      expect(kinds(f)).not.toContain('mmap-threshold-raised');
      // The effect of the fix, measured: the 63 MiB the raised threshold left in the heap is gone.
      expect(f.arenas[0]!.rssBytes).toBeLessThan(raisedHeapRss / 50);
      await fixed.stop();
    }
  });

  it('names the pinning chunk above 16 KiB holes, and the threshold a 256 KiB free raised', async () => {
    const t = await startTarget('raised-threshold', ['262144', '2000', '16384', '2']);
    const truth = JSON.parse(t.line) as RaisedTruth;
    const r = await inspect(t.pid);
    expect(pins(r.arenas[0]!)).toEqual(truth.pinning);
    expect(r.allocatorStats?.glibc).toMatchObject({ mmapThreshold: truth.glibc.mmapThreshold, trimThreshold: truth.glibc.trimThreshold });
    // Every other block freed: the holes add up to the bytes the target freed, all below the pin
    // (less the few hundred bytes glibc carved out of one of them since).
    const below = r.arenas[0]!.pinning![0]!.freeBelowBytes;
    expect(Math.abs(below - t.truth.main.freedBytes)).toBeLessThan(4096);
    await t.stop();
  });

  it('reports each arena\'s pinning pointer exactly, and none where nothing pins', async () => {
    const t = await startTarget('pinned-threads', ['4', '400', '32768']);
    const truth = JSON.parse(t.line) as PinnedTruth;
    const r = await inspect(t.pid);
    expect(pins(r.arenas[0]!)).toEqual(truth.pinning.main);
    t.truth.threads.forEach((thread, i) => {
      const arena = r.arenas.find((a) => a.pageMaps?.some((h) => h.start === thread.heapBases[0]));
      expect(arena, `arena of thread ${i}`).toBeTruthy();
      expect(pins(arena!)).toEqual(truth.pinning.threads[i]);
      expect(arena!.pinnedTop).toBe(thread.pinned);
      if (thread.pinned) expect(arena!.pinning![0]!.freeBelowBytes).toBe(thread.freedBytes);
    });
    expect(r.arenas.every((a) => a.walk?.complete)).toBe(true);
    await t.stop();
  });

  it('after a trim the pinned memory is no longer resident: no stale pinned warning, the pointer stays known', async () => {
    const t = await startTarget('pinned-threads', ['2', '400', '32768']);
    const before = await inspect(t.pid);
    expect(kinds(before)).toContain('pinned-top');
    const trim = await runCli(['trim', String(t.pid), '--json']);
    expect(trim.exitCode, trim.stderr).toBe(0);
    const after = await inspect(t.pid);
    expect(kinds(after)).not.toContain('pinned-top');
    const main = after.arenas[0]!;
    expect(main.pinnedTop).toBe(false);
    expect(main.pinnedResidentBytes!).toBeLessThan(64 * 1024);
    expect(pins(main)).toEqual(pins(before.arenas[0]!));
    // The released pages show as released in the page map.
    expect(main.pageMaps![0]!.freeReleasedPages * 4096).toBeGreaterThanOrEqual(0.95 * t.truth.main.freedBytes);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });
});
