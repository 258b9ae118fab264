// trim and trim --dry-run on targets with known free memory, checked against smaps_rollup read
// independently before and after.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { procState, startTarget, stopAllTargets } from '../helpers/targets.js';
import type { TrimReport } from '../../src/types.js';

afterAll(stopAllTargets);

const rssAnon = (pid: number) => Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const rollup = (pid: number) => Number(/^Rss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) * 1024;

async function trim(pid: number, ...extra: string[]): Promise<TrimReport> {
  const r = await runCli(['trim', String(pid), '--json', ...extra]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TrimReport;
}

describe('trim', () => {
  it('dry run predicts, the real trim releases it, per arena within 10%, and agrees with the kernel', async () => {
    const t = await startTarget('pinned-threads', ['4', '400', '32768']);
    const anonBefore = rssAnon(t.pid);
    const dry = await trim(t.pid, '--dry-run');
    expect(dry.dryRun).toBe(true);
    expect(dry.returned).toBeNull();
    // A dry run releases nothing. Rss may still grow a little: libc code pages of malloc_info and
    // vfprintf fault in the first time they run (file pages), and the calling thread's stack gets a few
    // pages deeper (gdb's dummy frame, vfprintf's frames): anonymous, but not heap.
    expect(Math.abs(rssAnon(t.pid) - anonBefore)).toBeLessThanOrEqual(64 * 1024);
    const before = rollup(t.pid);
    const real = await trim(t.pid);
    const after = rollup(t.pid);
    expect(real.returned).toBe(1);
    expect(real.releasedBytes).toBe(real.before.rss.total - real.after!.rss.total);
    expect(Math.abs(real.releasedBytes! - (before - after))).toBeLessThanOrEqual(0.05 * (before - after) + 64 * 1024);
    const freed = t.truth.main.freedBytes + t.truth.threads.filter((x) => x.pinned).reduce((s, x) => s + x.freedBytes, 0);
    expect(real.releasedBytes!).toBeGreaterThan(freed * 0.9);
    for (const a of real.arenas) {
      const predicted = dry.arenas.find((d) => d.index === a.index)!.predictedBytes;
      expect(Math.abs(predicted - a.releasedBytes!)).toBeLessThanOrEqual(Math.max(0.1 * a.releasedBytes!, 64 * 1024));
    }
    expect(real.findings.map((f) => f.kind)).toContain('trim-tcache');
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    // Once trimmed, inspect predicts (nearly) nothing more: the free chunks' pages are not resident.
    const inspectAfter = JSON.parse((await runCli(['inspect', String(t.pid), '--json'])).stdout) as { totals: { predictedTrimBytes: number } };
    expect(inspectAfter.totals.predictedTrimBytes).toBeLessThan(0.01 * real.releasedBytes!);
    // A second trim finds nothing left to release (and malloc_trim's 0/1 is not a byte count).
    const again = await trim(t.pid);
    expect(again.releasedBytes!).toBeLessThan(256 * 1024);
    await t.stop();
  });

  it('single-threaded fragmented main heap: holes in the middle come back, brk stays', async () => {
    const t = await startTarget('single-thread', ['2000', '16384']);
    const before = rollup(t.pid);
    const real = await trim(t.pid);
    const released = before - rollup(t.pid);
    expect(released).toBeGreaterThan(t.truth.main.freedBytes * 0.7);
    expect(Math.abs(real.releasedBytes! - released)).toBeLessThanOrEqual(0.05 * released + 64 * 1024);
    expect(Math.abs(real.predictedBytes - released)).toBeLessThanOrEqual(0.1 * released + 64 * 1024);
    expect(real.findings.map((f) => f.kind)).toContain('trim-brk-pinned');
    await t.stop();
  });
});
