// The built CLI against real targets that know what they allocated; every figure is compared with
// the target's own ground truth or with an independent reading of /proc/PID/smaps.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { procFds, procState, readSmaps, startTarget, stopAllTargets } from '../helpers/targets.js';
import type { RunningTarget, Vma } from '../helpers/targets.js';
import type { ArenaReport, InspectReport } from '../../src/types.js';

afterAll(stopAllTargets);

// malloc_info's in-use includes what the target did not allocate itself: the arena's malloc_state
// and heap_info, the tcache struct, stdio buffers. A few KiB per arena.
const OVERHEAD = 16 * 1024;

async function inspect(t: RunningTarget): Promise<InspectReport> {
  const r = await runCli(['inspect', String(t.pid), '--json']);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // never a stack trace
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as InspectReport;
}

function untouched(t: RunningTarget): void {
  const s = procState(t.pid);
  expect(s.alive).toBe(true);
  expect(s.tracerPid).toBe(0);
  expect(s.state).not.toMatch(/[Tt]/);
  expect(procFds(t.pid).filter((f) => f.includes('memfd:'))).toEqual([]);
}

function arenaAt(report: InspectReport, base: string): ArenaReport {
  const a = report.arenas.find((x) => x.heaps.some((h) => h.start === base));
  expect(a, `no arena owns the heap at ${base}`).toBeDefined();
  return a!;
}

/** Independent: Rss of the smaps VMAs inside an arena's heaps. */
function smapsRss(vmas: Vma[], a: ArenaReport): number {
  return vmas.filter((v) => a.heaps.some((h) => v.start >= BigInt(h.start) && v.start < BigInt(h.end))).reduce((s, v) => s + v.rss, 0);
}

function rollupRss(pid: number): number {
  return Number(/^Rss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) * 1024;
}

function expectInUse(a: ArenaReport, live: number): void {
  expect(a.inUseBytes).toBeGreaterThanOrEqual(live);
  expect(a.inUseBytes).toBeLessThanOrEqual(live * 1.02 + OVERHEAD);
}

describe('inspect on ground-truth targets', () => {
  it('pinned-threads: each thread arena joined to its heap, in-use, pinned top, held-free, Rss sum', async () => {
    const t = await startTarget('pinned-threads', ['4', '400', '32768']);
    const report = await inspect(t);
    const vmas = readSmaps(t.pid);
    expect(report.schema).toBe('heapgap.inspect/2');
    expect(report.target.allocator).toBe('glibc');
    expect(report.arenas).toHaveLength(1 + t.truth.threads.length);
    for (const th of t.truth.threads) {
      const a = arenaAt(report, th.heapBases[0]!);
      expect(a.kind).toBe('thread');
      expect(a.join).toBe('memory');
      expectInUse(a, th.liveBytes);
      expect(a.pinnedTop).toBe(th.pinned);
      expect(a.rssBytes).toBe(smapsRss(vmas, a));
      expect(a.heldFreeRssBytes).toBe(Math.max(0, a.rssBytes - a.inUseBytes));
      if (th.pinned) expect(a.heldFreeRssBytes).toBeGreaterThan(th.freedBytes * 0.9);
    }
    const main = report.arenas.find((a) => a.kind === 'main')!;
    expectInUse(main, t.truth.main.liveBytes);
    expect(main.pinnedTop).toBe(t.truth.main.pinned);
    expect(main.heaps[0]!.start).toBe(`0x${vmas.find((v) => v.name === '[heap]')!.start.toString(16)}`);
    // 100% of Rss attributed, and the total agrees with the kernel's own rollup (idle target).
    expect(report.breakdown.reduce((s, r) => s + r.rss, 0)).toBe(report.rss.total);
    expect(Math.abs(report.rss.total - rollupRss(t.pid))).toBeLessThanOrEqual(64 * 1024);
    expect(report.pause.stoppedMs).toBeGreaterThan(0);
    expect(report.findings.map((f) => f.kind)).toContain('held-free-gap');
    untouched(t);
    await t.stop();
  });

  it('multi-heap: one arena spanning several heaps owns all of them', async () => {
    const t = await startTarget('multi-heap', ['150', '65536']);
    const report = await inspect(t);
    const th = t.truth.threads[0]!;
    expect(th.heapBases.length).toBeGreaterThanOrEqual(3);
    const a = arenaAt(report, th.heapBases[0]!);
    const starts = a.heaps.filter((h) => h.rss > 0).map((h) => h.start);
    expect(starts.sort()).toEqual([...th.heapBases].sort());
    expectInUse(a, th.liveBytes);
    expect(a.rssBytes).toBe(smapsRss(readSmaps(t.pid), a));
    untouched(t);
    await t.stop();
  });

  it('mmap-chunks: count, bytes and Rss of chunks served by mmap', async () => {
    const t = await startTarget('mmap-chunks', ['40', '1048576']);
    const report = await inspect(t);
    expect(report.mmapChunks.count).toBe(t.truth.mmap.count);
    expect(report.mmapChunks.bytes).toBe(t.truth.mmap.bytes);
    const row = report.breakdown.find((r) => r.category === 'mmap-chunk')!;
    expect(row.size).toBe(t.truth.mmap.bytes);
    expect(row.rss).toBeGreaterThanOrEqual(t.truth.mmap.bytes * 0.99);
    expect(report.breakdown.reduce((s, r) => s + r.rss, 0)).toBe(report.rss.total);
    untouched(t);
    await t.stop();
  });

  it('single-thread: only the main arena, fragmented and pinned', async () => {
    const t = await startTarget('single-thread', ['2000', '16384']);
    const report = await inspect(t);
    expect(report.arenas).toHaveLength(1);
    const main = report.arenas[0]!;
    expectInUse(main, t.truth.main.liveBytes);
    expect(main.pinnedTop).toBe(true);
    expect(main.heldFreeRssBytes).toBeGreaterThan(t.truth.main.freedBytes * 0.9);
    expect(report.arenaMax).toMatchObject({ arenas: 1, threads: 1 });
    untouched(t);
    await t.stop();
  });
});
