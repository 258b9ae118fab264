// The kernel layer on a real target that releases memory with MADV_FREE: LazyFree and USS checked
// against /proc/PID/smaps_rollup, the finding that explains them, and the memory cgroup against
// the cgroup's own files.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { procState, readSmaps, startTarget, stopAllTargets } from '../helpers/targets.js';
import type { InspectReport } from '../../src/types.js';

afterAll(stopAllTargets);

const MIB = 1024 * 1024;
const rollup = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)![1]) * 1024;
  return { rss: kb('Rss'), uss: kb('Private_Clean') + kb('Private_Dirty'), lazyFree: kb('LazyFree') };
};

describe('kernel layer', () => {
  it('MADV_FREE: rss.lazyFree and rss.uss equal smaps_rollup, the block\'s row carries them, a finding explains it', async () => {
    const t = await startTarget('lazyfree', ['64', '48']);
    const block = JSON.parse(t.line).block as { start: string; bytes: number; lazyFreeBytes: number };
    const before = rollup(t.pid);
    const r = await runCli(['inspect', String(t.pid), '--json']);
    const after = rollup(t.pid);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as InspectReport;
    // heapgap reads smaps_rollup after it detached: what the target is left with, as read after it
    expect(report.rss.uss).toBe(after.uss);
    expect(report.rss.lazyFree).toBe(after.lazyFree);
    // Rss and the rows come from smaps read in the stop, before heapgap's own call (a FILE, a
    // memfd) touched a few pages
    expect(Math.abs(report.rss.total - before.rss)).toBeLessThanOrEqual(256 * 1024);
    // the pages are still resident: LazyFree is what the target gave to MADV_FREE (the kernel may
    // not have moved the last pagevec of them yet)
    expect(after.lazyFree).toBeGreaterThan(block.lazyFreeBytes - MIB);
    expect(after.lazyFree).toBeLessThanOrEqual(block.lazyFreeBytes);
    // the block is an anonymous mapping outside malloc: its breakdown row carries the LazyFree
    const rows = report.breakdown;
    expect(Math.abs(rows.reduce((s, b) => s + (b.lazyFreeBytes ?? 0), 0) - after.lazyFree)).toBeLessThanOrEqual(256 * 1024);
    expect(Math.abs(rows.reduce((s, b) => s + (b.privateBytes ?? 0), 0) - after.uss)).toBeLessThanOrEqual(256 * 1024);
    const vma = readSmaps(t.pid).find((v) => v.start === BigInt(block.start));
    expect(vma?.kb['LazyFree']).toBeGreaterThan(0);
    expect(rows.find((b) => b.category === 'anon-other')!.lazyFreeBytes).toBeGreaterThanOrEqual(block.lazyFreeBytes - MIB);
    const f = report.findings.find((x) => x.kind === 'lazy-free');
    expect(f?.bytes).toBe(report.rss.lazyFree);
    expect(procState(t.pid).tracerPid).toBe(0);
    await t.stop();
  });

  it('reports the memory cgroup the target is in, as its own files say', async () => {
    const t = await startTarget('lazyfree', ['16', '0']);
    const r = await runCli(['inspect', String(t.pid), '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const cg = (JSON.parse(r.stdout) as InspectReport).cgroup;
    const lines = readFileSync(`/proc/${t.pid}/cgroup`, 'utf8');
    const v1 = /^\d+:[^:]*\bmemory\b[^:]*:(.*)$/m.exec(lines)?.[1];
    expect(cg, 'no cgroup in the report').toBeTruthy();
    if (v1 !== undefined) {
      expect(cg!.version).toBe(1);
      expect(cg!.path).toBe(v1);
      const dir = `/sys/fs/cgroup/memory${v1}`;
      const limit = Number(readFileSync(`${dir}/memory.limit_in_bytes`, 'utf8'));
      expect(cg!.limitBytes).toBe(limit >= 2 ** 62 ? null : limit);
    } else {
      expect(cg!.version).toBe(2);
      expect(cg!.path).toBe(/^0::(.*)$/m.exec(lines)![1]);
    }
    // the cgroup holds at least this target's anonymous memory (16 MiB touched)
    expect(cg!.currentBytes).toBeGreaterThanOrEqual(16 * MIB);
    expect(cg!.anonBytes).toBeGreaterThanOrEqual(16 * MIB);
    await t.stop();
  });
});
