// The runtime layer on real runtimes started here: a JVM, a node HTTP server, CPython. heapgap's
// figures are checked against what each runtime reports about itself (jcmd, v8.getHeapStatistics,
// sys._debugmallocstats) and against an independent reading of smaps.
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { procState, readSmaps } from '../helpers/targets.js';
import type { Vma } from '../helpers/targets.js';
import { compileJava, haveCommand, startRuntime, stopAllRuntimes } from '../helpers/runtimes.js';
import type { RuntimeProcess } from '../helpers/runtimes.js';
import { TARGETS_DIR } from '../helpers/targets.js';
import type { InspectReport } from '../../src/types.js';

afterAll(stopAllRuntimes);

const MIB = 1024 * 1024;
const JAVA = '/usr/bin/java';
const hasJdk = haveCommand(JAVA) && haveCommand('/usr/bin/javac') && haveCommand('/usr/bin/jcmd');

async function inspect(p: RuntimeProcess): Promise<InspectReport> {
  const r = await runCli(['inspect', String(p.pid), '--json'], { timeout: 90_000 });
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(r.exitCode, r.stderr).toBe(0);
  const s = procState(p.pid);
  expect(s.alive && s.tracerPid === 0 && !/[Tt]/.test(s.state ?? '')).toBe(true);
  return JSON.parse(r.stdout) as InspectReport;
}

const row = (r: InspectReport, c: string) => r.breakdown.find((b) => b.category === c);
const rssIn = (vmas: Vma[], start: bigint, end: bigint) => vmas.filter((v) => v.start >= start && v.end <= end).reduce((s, v) => s + v.rss, 0);

describe.skipIf(!hasJdk)('JVM (needs openjdk-17-jdk-headless)', () => {
  it('java heap, code cache and metaspace match the ranges and sizes the JVM reports; anon-other is a small rest', async () => {
    const cp = await compileJava('IdleJvm');
    const jvm = await startRuntime(JAVA, ['-Xmx256m', '-XX:+UseG1GC', '-cp', cp, 'IdleJvm', '64']);
    const report = await inspect(jvm);
    const smaps = readSmaps(jvm.pid); // right after heapgap, the JVM idle
    const info = (await execa('jcmd', [String(jvm.pid), 'VM.info'], { reject: false })).stdout;
    // "Heap address: 0x00000000f0000000, size: 256 MB"
    const heap = /Heap address: (0x[0-9a-f]+), size: (\d+) MB/.exec(info);
    expect(heap, info.slice(0, 2000)).not.toBeNull();
    const heapStart = BigInt(heap![1]!);
    const heapEnd = heapStart + BigInt(Number(heap![2]) * MIB);
    const jvmRt = report.runtimes?.find((x) => x.runtime === 'jvm');
    const heapRegion = jvmRt?.regions.find((x) => x.name === 'java heap');
    expect(heapRegion?.start).toBe(`0x${heapStart.toString(16)}`);
    expect(heapRegion?.end).toBe(`0x${heapEnd.toString(16)}`);
    const heapRss = rssIn(smaps, heapStart, heapEnd);
    expect(Math.abs(row(report, 'jvm-heap')!.rss - heapRss)).toBeLessThanOrEqual(MIB);
    expect(row(report, 'jvm-heap')!.rss).toBeGreaterThanOrEqual(64 * MIB); // the live arrays
    // code heaps: " bounds [low, committed high, high boundary]"
    const bounds = [...info.matchAll(/bounds \[(0x[0-9a-f]+), (0x[0-9a-f]+), (0x[0-9a-f]+)\]/g)].map((m) => [BigInt(m[1]!), BigInt(m[3]!)] as const);
    expect(bounds.length).toBeGreaterThanOrEqual(1);
    const codeRss = bounds.reduce((s, [lo, hi]) => s + rssIn(smaps, lo, hi), 0);
    expect(Math.abs(row(report, 'jvm-code-cache')!.rss - codeRss)).toBeLessThanOrEqual(256 * 1024);
    // the JVM's own committed heap and metaspace (jcmd GC.heap_info: "total 262144K, used ..."; "Metaspace used 476K, committed 640K")
    const heapInfo = (await execa('jcmd', [String(jvm.pid), 'GC.heap_info'], { reject: false })).stdout;
    const total = Number(/total (\d+)K/.exec(heapInfo)?.[1]) * 1024;
    expect(heapRegion?.committedBytes).toBe(total);
    const meta = /Metaspace\s+used (\d+)K, committed (\d+)K, reserved (\d+)K/.exec(heapInfo);
    const cls = /class space\s+used (\d+)K, committed (\d+)K, reserved (\d+)K/.exec(heapInfo);
    const metaRegions = jvmRt!.regions.filter((x) => x.category === 'jvm-metaspace');
    expect(metaRegions.reduce((s, x) => s + (x.maxBytes ?? 0), 0)).toBe(Number(meta![3]) * 1024);
    expect(metaRegions.find((x) => x.name === 'compressed class space')?.maxBytes).toBe(Number(cls![3]) * 1024);
    // hsperfdata's metaspace counters are refreshed at GC; jcmd's attach loads a few classes since
    const committed = metaRegions.reduce((s, x) => s + (x.committedBytes ?? 0), 0);
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThanOrEqual(Number(meta![2]) * 1024);
    expect(Math.abs(heapRegion!.usedBytes! - Number(jvm.ready['liveBytes']))).toBeLessThanOrEqual(16 * MIB);
    const anonOther = row(report, 'anon-other')?.rss ?? 0;
    expect(anonOther).toBeLessThanOrEqual(0.1 * report.rss.total);
    expect(report.breakdown.reduce((s, b) => s + b.rss, 0)).toBe(report.rss.total);
    // opt-in: the JVM's own ranges through jcmd give the same heap and code cache
    const r2 = await runCli(['inspect', String(jvm.pid), '--json', '--jvm-jcmd'], { timeout: 90_000 });
    expect(r2.exitCode, r2.stderr).toBe(0);
    const withJcmd = JSON.parse(r2.stdout) as InspectReport;
    const rt2 = withJcmd.runtimes!.find((x) => x.runtime === 'jvm')!;
    expect(rt2.notes.join(' ')).toMatch(/jcmd VM.info/);
    expect(rt2.regions.find((x) => x.name === 'java heap')?.start).toBe(heapRegion?.start);
    expect(Math.abs(row(withJcmd, 'jvm-code-cache')!.rss - codeRss)).toBeLessThanOrEqual(256 * 1024);
    await jvm.stop();
  }, 180_000);
});

describe('node (V8)', () => {
  it('v8-heap is near V8\'s own physical heap size; anon-other is a small rest', async () => {
    const node = await startRuntime(process.execPath, [`${TARGETS_DIR}/node-server.mjs`, '32']);
    const port = Number(node.ready['port']);
    for (let i = 0; i < 50; i++) await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    const before = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { heap: { total_physical_size: number } };
    const report = await inspect(node);
    const after = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { heap: { total_physical_size: number } };
    const v8rss = row(report, 'v8-heap')!.rss;
    const own = [before.heap.total_physical_size, after.heap.total_physical_size];
    // V8's physical size counts committed page memory; Rss also has page headers it touched and
    // pages it keeps pooled: within 10% + 2 MiB of its own figure.
    expect(v8rss).toBeGreaterThanOrEqual(Math.min(...own) * 0.9 - 2 * MIB);
    expect(v8rss).toBeLessThanOrEqual(Math.max(...own) * 1.1 + 2 * MIB);
    expect(row(report, 'anon-other')?.rss ?? 0).toBeLessThanOrEqual(0.1 * report.rss.total);
    await node.stop();
  }, 120_000);
});

describe('CPython', () => {
  it('python-obmalloc covers the arenas CPython reports, and their Rss is the VMAs\' own', async () => {
    const py = await startRuntime('python3', [`${TARGETS_DIR}/py-objects.py`, '400000']);
    const report = await inspect(py);
    const stats = py.stderr();
    const arenas = Number(/# arenas allocated current\s+=\s+([\d,]+)/.exec(stats)?.[1]?.replaceAll(',', ''));
    const arenaSize = Number(/\d+ arenas \* (\d+) bytes\/arena/.exec(stats)?.[1]);
    expect(arenas).toBeGreaterThan(10);
    const region = report.runtimes?.find((x) => x.runtime === 'cpython')?.regions.find((x) => x.category === 'python-obmalloc');
    // committedBytes: the whole arenas heapgap found in maps; CPython's own count, give or take one
    // arena-sized mapping that is not an arena
    expect(Math.abs(region!.committedBytes! - arenas * arenaSize)).toBeLessThanOrEqual(2 * arenaSize);
    expect(region!.size).toBeGreaterThanOrEqual(region!.committedBytes!);
    expect(region!.size).toBeLessThanOrEqual(region!.committedBytes! + region!.vmas * arenaSize);
    const smaps = readSmaps(py.pid);
    const claimed = smaps.filter((v) => v.name === '' && v.perms === 'rw-p' && v.inode === 0 && Number(v.end - v.start) >= arenaSize);
    expect(row(report, 'python-obmalloc')!.rss).toBeLessThanOrEqual(claimed.reduce((s, v) => s + v.rss, 0));
    expect(row(report, 'python-obmalloc')!.rss).toBeGreaterThanOrEqual(0.5 * arenas * arenaSize); // every arena holds live dicts
    expect(report.findings.map((f) => f.kind)).toContain('python-obmalloc');
    await py.stop();
  }, 120_000);
});
