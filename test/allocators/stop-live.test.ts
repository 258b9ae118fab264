// The in-stop half of each allocator module, proved on live targets before the protocol core runs
// it: stop.py through test/helpers/stop-harness.py, its result decoded and analysed, every figure
// compared with the reading the target takes of itself through the allocator's own API.
import { afterEach, describe, expect, it } from 'vitest';
import { detectProcess } from '../../src/allocators/detect-process.js';
import { addressOf, openObject } from '../../src/allocators/mapped-objects.js';
import { analyseJemalloc } from '../../src/allocators/jemalloc/analyse.js';
import { prepareJemalloc } from '../../src/allocators/jemalloc/prepare.js';
import { jemallocSection } from '../../src/allocators/jemalloc/section.js';
import { analyseMimalloc } from '../../src/allocators/mimalloc/analyse.js';
import { prepareMimalloc } from '../../src/allocators/mimalloc/prepare.js';
import { mimallocSection } from '../../src/allocators/mimalloc/section.js';
import { analyseTcmalloc } from '../../src/allocators/tcmalloc/analyse.js';
import { prepareTcmalloc } from '../../src/allocators/tcmalloc/prepare.js';
import { tcmallocSection } from '../../src/allocators/tcmalloc/section.js';
import { ProcMemory } from '../../src/collect/memory.js';
import { releaseFigures } from '../../src/allocators/release.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { JEMALLOC_STATIC, missing, startAllocTarget } from '../helpers/alloc-targets.js';
import type { AllocTarget } from '../helpers/alloc-targets.js';
import { libcFor, readMaps, runStop } from '../helpers/stop-harness.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const targets: AllocTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.stop()));
});

const within = (actual: number, expected: number, share: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(share * Math.max(1, expected));

async function start(allocator: 'jemalloc' | 'tcmalloc' | 'mimalloc') {
  const t = await startAllocTarget({ c: ['2', '20000'] }, allocator);
  targets.push(t);
  expect(t.truth.allocator).toBe(allocator);
  const maps = await readMaps(t.pid);
  const found = await detectProcess(t.pid, maps);
  expect(found.serving).toBe(allocator);
  return { t, maps, presence: found.present[0]! };
}

const input = (pid: number, rssTotal: number) => ({ pid, comm: 'alloc-stats', cpus: 2, threads: 4, env: {}, rssTotal });
const rollupRss = (text: string) => Number(/^Rss:\s+(\d+) kB/m.exec(text)![1]) * 1024;

describe.skipIf(missing('jemalloc'))('jemalloc stop.py', () => {
  it('reads mallctl stats within 3% of the target\'s own reading, and its purge returns the dirty pages', async () => {
    const { t, presence } = await start('jemalloc');
    const plan = await prepareJemalloc(t.pid, presence);
    const run = await runStop(t.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const section = jemallocSection(run.collect, { object: presence.object.path, prefix: '' });
    const self = await t.readSelf();
    for (const k of ['allocated', 'active', 'resident', 'mapped', 'dirty'] as const) within((section as unknown as Record<string, number>)[k === 'dirty' ? 'pdirty' : k]! * (k === 'dirty' ? section.page : 1), Number(self[k]), 0.03);
    const a = analyseJemalloc(section, input(t.pid, 300 << 20));
    // What the program knows: the freed half of the large blocks (whole pages) is dirty.
    expect(a.stats.allocated as number).toBeGreaterThanOrEqual(t.truth.live!.usable);
    within(a.stats.allocated as number, t.truth.live!.usable, 0.05);
    expect(a.arenas.length).toBeGreaterThanOrEqual(3);
    within(a.arenas.reduce((s, x) => s + (x.inUseBytes ?? 0), 0), a.stats.allocated as number, 0.01);
    expect(a.findings.map((f) => f.kind)).toContain('jemalloc-purgeable');
    const trim = await runStop(t.pid, plan, 'trim');
    expect(trim.error).toBeNull();
    const released = rollupRss(trim.rollupBefore!) - rollupRss(trim.rollupAfter!);
    within(released, a.stats.purgeableBytes as number, 0.1);
    const r = releaseFigures('jemalloc', trim.release);
    expect(r.returned).toBe(0);
    within(released, r.predictedBytes!, 0.1);
    // Per arena, jemalloc's own resident count: the arenas' drops add up to the process's.
    within(r.perArena!.reduce((t, x) => t + (x.releasedBytes ?? 0), 0), released, 0.1);
    expect(t.alive()).toBe(true);
    expect(Number((await t.readSelf()).dirty)).toBeLessThan(1 << 20);
  });
});

describe.skipIf(missing('tcmalloc'))('tcmalloc stop.py', () => {
  it('reads the numeric properties equal to the target\'s own, claims [heap], and ReleaseFreeMemory returns the page heap\'s free spans', async () => {
    const { t, presence, maps } = await start('tcmalloc');
    const plan = await prepareTcmalloc(t.pid, presence, maps);
    const run = await runStop(t.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const vmas = parseSmaps(await readFile(`/proc/${t.pid}/smaps`, 'latin1'), 'smaps');
    const section = tcmallocSection(run.collect, presence.object.path, vmas);
    const self = await t.readSelf();
    const a = analyseTcmalloc(section, input(t.pid, 300 << 20));
    for (const k of ['allocated', 'heapSize', 'pageheapFree', 'pageheapUnmapped', 'centralCacheFree', 'transferCacheFree', 'threadCacheFree']) within(a.stats[k] as number, Number(self[k]), 0.03);
    expect(section.statsText?.inUse).toBe(a.stats.allocated);
    within(a.stats.allocated as number, t.truth.live!.usable, 0.05);
    expect(a.claims.some((c) => vmas.find((v) => v.pathname === '[heap]')?.start === c.start)).toBe(true);
    const trim = await runStop(t.pid, plan, 'trim');
    expect(trim.error).toBeNull();
    const released = rollupRss(trim.rollupBefore!) - rollupRss(trim.rollupAfter!);
    within(released, a.stats.pageheapFree as number, 0.1);
    within(released, releaseFigures('tcmalloc', trim.release).predictedBytes!, 0.1);
    expect(t.alive()).toBe(true);
    expect(Number((await t.readSelf()).pageheapFree)).toBeLessThan(1 << 20);
  });
});

describe.skipIf(missing('mimalloc'))('mimalloc stop.py', () => {
  it('reads committed exactly and reserved from its stats block, claims its segments, and mi_collect releases', async () => {
    const { t, presence, maps } = await start('mimalloc');
    const libc = await libcFor(t.pid, maps);
    const plan = await prepareMimalloc(t.pid, presence, maps, libc.addr.fputs!);
    const run = await runStop(t.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const vmas = parseSmaps(await readFile(`/proc/${t.pid}/smaps`, 'latin1'), 'smaps');
    const memory = await ProcMemory.open(t.pid);
    const section = await mimallocSection(run.collect, presence.object.path, vmas, memory).finally(() => memory.close());
    const self = await t.readSelf();
    const a = analyseMimalloc(section, input(t.pid, 300 << 20));
    within(a.stats.committed as number, Number(self.committed), 0.05);
    expect(a.stats.exact).toBe(true);
    // The target's own printed line, "reserved:  288.0 MiB  288.0 MiB      0      288.0 MiB": its
    // current (4th amount) is rounded down to a tenth of the unit; the exact figure lies just above.
    const amounts = [...String(self.reservedLine).matchAll(/(\d+(?:\.\d)?)(?: (KiB|MiB|GiB))?/g)].map((m) => Number(m[1]) * ({ KiB: 1024, MiB: 1 << 20, GiB: 1 << 30 }[m[2] ?? ''] ?? 1));
    expect(a.stats.reserved as number).toBeGreaterThanOrEqual(amounts[3]!);
    expect(a.stats.reserved as number).toBeLessThan(amounts[3]! * 1.05);
    expect(section.printed).toBeNull();
    expect(a.stats.segmentRss as number).toBeGreaterThan(t.truth.live!.usable * 0.9);
    const trim = await runStop(t.pid, plan, 'trim');
    expect(trim.error).toBeNull();
    expect(t.alive()).toBe(true);
    await t.readSelf();
  });
});

describe.skipIf(!existsSync(JEMALLOC_STATIC.path))(`two allocators: jemalloc linked statically next to glibc (needs ${JEMALLOC_STATIC.pkg})`, () => {
  it('finds both, serving glibc, jemalloc from the executable\'s .symtab, and reads jemalloc through its hidden mallctl', async () => {
    const t = await startAllocTarget({ staticJemalloc: ['1', '20000'] }, null);
    targets.push(t);
    expect(t.truth.allocator).toBe('jemalloc');
    const found = await detectProcess(t.pid, await readMaps(t.pid));
    expect(found.serving).toBe('glibc');
    expect(found.present.map((p) => p.name)).toEqual(['glibc', 'jemalloc']);
    const je = found.present[1]!;
    expect(je.static).toBe(true);
    const plan = await prepareJemalloc(t.pid, je);
    // Only jemalloc's functions in the executable are off limits, not the program's own code.
    const exe = await openObject(t.pid, je.object, { symtab: true });
    const inside = (name: string) => {
      const at = BigInt(addressOf(exe, name)!);
      return plan.forbiddenRanges.some(([a, b]) => at >= a && at < b);
    };
    expect(plan.forbiddenRanges.length).toBeGreaterThan(0);
    expect(inside(`${je.prefix}mallctl`)).toBe(true);
    expect(inside('main')).toBe(false);
    expect(inside('worker')).toBe(false);
    const run = await runStop(t.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const section = jemallocSection(run.collect, { object: je.object.path, prefix: je.prefix });
    const self = await t.readSelf();
    within(section.allocated, Number(self.allocated), 0.03);
    within(section.resident, Number(self.resident), 0.03);
  });
});
