// python3 under tcmalloc and under mimalloc (LD_PRELOAD): stop.py's figures against what the
// interpreter reads about itself in-process (ctypes), and a release that really lowers Rss.
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { detectProcess } from '../../src/allocators/detect-process.js';
import { analyseMimalloc } from '../../src/allocators/mimalloc/analyse.js';
import { prepareMimalloc } from '../../src/allocators/mimalloc/prepare.js';
import { mimallocSection } from '../../src/allocators/mimalloc/section.js';
import { analyseTcmalloc } from '../../src/allocators/tcmalloc/analyse.js';
import { prepareTcmalloc } from '../../src/allocators/tcmalloc/prepare.js';
import { tcmallocSection } from '../../src/allocators/tcmalloc/section.js';
import { ProcMemory } from '../../src/collect/memory.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { missing, startAllocTarget } from '../helpers/alloc-targets.js';
import type { AllocTarget } from '../helpers/alloc-targets.js';
import { libcFor, readMaps, runStop } from '../helpers/stop-harness.js';

const targets: AllocTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.stop()));
});
const within = (actual: number, expected: number, share: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(share * Math.max(1, expected));
const rollupRss = (text: string) => Number(/^Rss:\s+(\d+) kB/m.exec(text)![1]) * 1024;
const input = (pid: number) => ({ pid, comm: 'python3', cpus: 2, threads: 1, env: {}, rssTotal: 300 << 20 });

describe.skipIf(missing('tcmalloc'))('python3 under tcmalloc', () => {
  it('matches the interpreter\'s own MallocExtension readings within 5% and ReleaseFreeMemory lowers Rss by the page heap\'s free bytes', async () => {
    const t = await startAllocTarget({ python: ['60000', '2000'] }, 'tcmalloc');
    targets.push(t);
    const maps = await readMaps(t.pid);
    const found = await detectProcess(t.pid, maps);
    expect(found.serving).toBe('tcmalloc');
    const plan = await prepareTcmalloc(t.pid, found.present[0]!, maps);
    const run = await runStop(t.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const vmas = parseSmaps(await readFile(`/proc/${t.pid}/smaps`, 'latin1'), 'smaps');
    const a = analyseTcmalloc(tcmallocSection(run.collect, found.present[0]!.object.path, vmas), input(t.pid));
    const self = await t.readSelf();
    for (const k of ['allocated', 'heapSize', 'pageheapFree']) within(a.stats[k] as number, Number(self[k]), 0.05);
    expect(a.stats.pageheapFree as number).toBeGreaterThan(50 << 20);
    const trim = await runStop(t.pid, plan, 'trim');
    expect(trim.error).toBeNull();
    within(rollupRss(trim.rollupBefore!) - rollupRss(trim.rollupAfter!), a.stats.pageheapFree as number, 0.1);
    expect(t.alive()).toBe(true);
    expect(Number((await t.readSelf()).pageheapUnmapped)).toBeGreaterThan(50 << 20);
  });
});

describe.skipIf(missing('mimalloc'))('python3 under mimalloc', () => {
  it('matches the interpreter\'s own mi_process_info within 5% and mi_collect(true) lowers Rss', async () => {
    const t = await startAllocTarget({ python: ['60000', '2000'] }, 'mimalloc');
    targets.push(t);
    const maps = await readMaps(t.pid);
    const found = await detectProcess(t.pid, maps);
    expect(found.serving).toBe('mimalloc');
    const libc = await libcFor(t.pid, maps);
    const plan = await prepareMimalloc(t.pid, found.present[0]!, maps, libc.addr.fputs!);
    const run = await runStop(t.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const vmas = parseSmaps(await readFile(`/proc/${t.pid}/smaps`, 'latin1'), 'smaps');
    const memory = await ProcMemory.open(t.pid);
    const section = await mimallocSection(run.collect, found.present[0]!.object.path, vmas, memory).finally(() => memory.close());
    const a = analyseMimalloc(section, input(t.pid));
    const self = await t.readSelf();
    within(a.stats.committed as number, Number(self.committed), 0.05);
    within(a.stats.currentRss as number, Number(self.currentRss), 0.05);
    const trim = await runStop(t.pid, plan, 'trim');
    expect(trim.error).toBeNull();
    const released = rollupRss(trim.rollupBefore!) - rollupRss(trim.rollupAfter!);
    expect(released).toBeGreaterThan(30 << 20);
    expect(t.alive()).toBe(true);
    expect(Number((await t.readSelf()).committed)).toBeLessThan(Number(self.committed));
  });
});
