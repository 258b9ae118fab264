// capture -> report reproduces inspect; diff after a trim; watch never stops the target.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/scratch.js';
import { procState, readSmaps, startTarget, stopAllTargets } from '../helpers/targets.js';
import type { DiffReport, InspectReport } from '../../src/types.js';
import type { WatchTick } from '../../src/analyse/watch.js';

afterAll(stopAllTargets);
const dir = mkdtempSync(join(tmpdir(), 'heapgap-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('capture, report, diff', () => {
  it('report renders a capture as inspect would; diff sees a trim arena by arena', async () => {
    const t = await startTarget('pinned-threads', ['4', '400', '32768']);
    const before = join(dir, 'before.json');
    const after = join(dir, 'after.json');
    expect((await runCli(['capture', String(t.pid), '-o', before])).exitCode).toBe(0);
    const capture = JSON.parse(readFileSync(before, 'utf8')) as { schema: string; env: object; sections: { glibc: { mallocInfo: string } } };
    expect(capture.schema).toBe('heapgap.capture/2');
    expect(capture.sections.glibc.mallocInfo).toMatch(/^<malloc version="1">/);
    const inspect = JSON.parse((await runCli(['inspect', String(t.pid), '--json'])).stdout) as InspectReport;
    const reported = JSON.parse((await runCli(['report', before, '--json'])).stdout) as InspectReport;
    // the same process, idle: the same arenas, joined to the same heaps, with the same figures
    const strip = (r: InspectReport) => r.arenas.map((a) => ({ ...a, inUseBytes: Math.round(a.inUseBytes / 4096), heldFreeRssBytes: Math.round(a.heldFreeRssBytes / 65536), freeBytes: 0, fastFreeBytes: 0, binFreeBytes: Math.round(a.binFreeBytes / 65536), topBytes: 0, predictedTrimBytes: 0 }));
    expect(strip(reported)).toEqual(strip(inspect));
    expect(reported.breakdown.map((b) => b.category)).toEqual(inspect.breakdown.map((b) => b.category));
    // the same capture always renders the same report
    expect((await runCli(['report', before, '--format', 'markdown'])).stdout).toBe((await runCli(['report', before, '--format', 'markdown'])).stdout);
    expect((await runCli(['trim', String(t.pid)])).exitCode).toBe(0);
    expect((await runCli(['capture', String(t.pid), '-o', after])).exitCode).toBe(0);
    const diff = JSON.parse((await runCli(['diff', before, after, '--json'])).stdout) as DiffReport;
    expect(diff.rss.delta).toBeLessThan(-30 * 1024 * 1024);
    const pinned = t.truth.threads.filter((x) => x.pinned);
    const dropped = diff.arenas.filter((a) => a.rssDelta < -10 * 1024 * 1024);
    expect(dropped.length).toBe(pinned.length + 1); // + main
    expect(diff.findings.resolved.map((f) => f.kind)).toContain('held-free-gap');
    await t.stop();
  });
});

describe('watch', () => {
  it('streams per-arena Rss from smaps without running gdb at all', async () => {
    const t = await startTarget('pinned-threads', ['4', '400', '32768']);
    const fake = testDir('heapgap-fakegdb-');
    const marker = join(fake, 'ran');
    writeFileSync(join(fake, 'gdb'), `#!/bin/sh\ntouch ${marker}\nexit 99\n`);
    chmodSync(join(fake, 'gdb'), 0o755);
    const r = await runCli(['watch', String(t.pid), '--interval', '100ms', '--count', '3', '--json'], { env: { PATH: `${fake}:${process.env.PATH}` } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(marker)).toBe(false);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as WatchTick & { schema: string });
    expect(lines).toHaveLength(4);
    expect(lines[3]!.schema).toBe('heapgap.watch-summary/1');
    const tick = lines[2]!;
    const vmas = readSmaps(t.pid);
    for (const th of t.truth.threads) {
      const base = BigInt(th.heapBases[0]!);
      const a = tick.arenas.find((x) => x.key !== 'main' && BigInt(x.key) >= base && BigInt(x.key) < base + 4096n);
      expect(a, th.heapBases[0]).toBeDefined();
      expect(a!.rssBytes).toBe(vmas.filter((v) => v.start >= base && v.start < base + 64n * 1024n * 1024n).reduce((s, v) => s + v.rss, 0));
    }
    expect(Object.values(tick.layers).reduce((s, v) => s + (v ?? 0), 0)).toBe(tick.rss.total);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });
});
