import { describe, expect, it } from 'vitest';
import { cgroupReport, parsePressure, parseProcCgroup } from '../../src/kernel/cgroup.js';
import { fileRows } from '../../src/kernel/files.js';
import { processFigures } from '../../src/kernel/figures.js';
import { buildRegions } from '../../src/analyse/regions.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { CAPTURES, fixture } from '../fixtures.js';

const rollupKb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)![1]) * 1024;

describe('kernel figures from smaps', () => {
  it.each([...CAPTURES, 'jvm-idle-g1'])('%s: Private, LazyFree, AnonHugePages, Swap sum to the rollup; regions keep the sums when split', (name) => {
    const vmas = parseSmaps(fixture(name, 'smaps'));
    const rollup = fixture(name, 'smaps_rollup');
    const p = processFigures(vmas);
    // smaps and smaps_rollup were read one after the other from an idle process
    expect(Math.abs(p.uss - (rollupKb(rollup, 'Private_Clean') + rollupKb(rollup, 'Private_Dirty')))).toBeLessThanOrEqual(64 * 1024);
    expect(p.lazyFree).toBe(rollupKb(rollup, 'LazyFree'));
    expect(p.anonHugePages).toBe(rollupKb(rollup, 'AnonHugePages'));
    // cut every rw VMA in two with a claim: each VMA's regions still sum to its own figures
    const claims = vmas.filter((v) => v.size >= 8192 && v.rss > 0).map((v) => ({ start: v.start, end: v.start + 4096n, category: 'arena' as const, rss: 4096 }));
    const regions = buildRegions(vmas, claims, []);
    const total = (k: 'privateBytes' | 'lazyFreeBytes' | 'swapBytes') => regions.reduce((s, r) => s + r.kernel[k], 0);
    expect(total('privateBytes')).toBe(p.uss);
    expect(total('lazyFreeBytes')).toBe(p.lazyFree);
    expect(total('swapBytes')).toBe(vmas.reduce((s, v) => s + v.swap, 0));
  });

  it('files: each file once, private + shared = its Rss, largest first', () => {
    const vmas = parseSmaps(fixture('python3-http-server-after-load', 'smaps'));
    const rows = fileRows(vmas, (v) => v.inode !== 0, 1000);
    const libc = rows.find((r) => r.path.endsWith('/libc.so.6'))!;
    expect(libc.vmas).toBe(vmas.filter((v) => v.pathname === libc.path).length);
    for (const r of rows) expect(r.privateBytes + r.sharedBytes).toBe(r.rss);
    expect(rows.map((r) => r.rss)).toEqual([...rows.map((r) => r.rss)].sort((a, b) => b - a));
    const few = fileRows(vmas, (v) => v.inode !== 0, 3);
    expect(few).toHaveLength(4);
    expect(few.reduce((s, r) => s + r.rss, 0)).toBe(rows.reduce((s, r) => s + r.rss, 0));
  });
});

describe('memory cgroup', () => {
  it('finds the v1 memory hierarchy and the v2 path in /proc/PID/cgroup', () => {
    expect(parseProcCgroup('12:pids:/a\n4:memory:/process_api/x\n0::/\n')).toEqual({ v1: '/process_api/x', v2: '/' });
    expect(parseProcCgroup('0::/system.slice/app.service\n')).toEqual({ v1: null, v2: '/system.slice/app.service' });
    expect(parseProcCgroup('5:cpu,memory:/k\n')).toEqual({ v1: '/k', v2: null });
  });

  it('v2: max means no limit; anon/file from memory.stat; PSI avg10', () => {
    const r = cgroupReport(2, '/app', { current: '104857600\n', peak: '209715200\n', limit: 'max\n', stat: 'anon 73400320\nfile 20971520\nkernel 1\n', pressure: 'some avg10=1.50 avg60=0.20 avg300=0.00 total=10\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=3\n' })!;
    expect(r).toMatchObject({ version: 2, currentBytes: 104857600, peakBytes: 209715200, limitBytes: null, anonBytes: 73400320, fileBytes: 20971520, pressure: { some10: 1.5, full10: 0.25 }, headroomBytes: null });
    const limited = cgroupReport(2, '/app', { current: '100', peak: null, limit: '150', stat: '', pressure: null })!;
    expect(limited).toMatchObject({ limitBytes: 150, headroomBytes: 50, peakBytes: null, pressure: null });
  });

  it('v1: the unlimited sentinel is no limit; hierarchical totals preferred', () => {
    const r = cgroupReport(1, '/x', { current: '5000', peak: '9000', limit: '9223372036854771712', stat: 'rss 10\ncache 20\ntotal_rss 1000\ntotal_cache 2000\n', pressure: null })!;
    expect(r).toMatchObject({ version: 1, limitBytes: null, anonBytes: 1000, fileBytes: 2000, peakBytes: 9000, pressure: null });
    expect(cgroupReport(1, '/x', { current: null, peak: null, limit: null, stat: null, pressure: null })).toBeNull();
    expect(parsePressure('garbage')).toBeNull();
  });
});
