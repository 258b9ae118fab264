// Each glibc finding fires exactly when its condition holds, with its words from the registry.
import { beforeAll, describe, expect, it } from 'vitest';
import { arenaAdvice, glibcFindings, trimFindings } from '../../../src/allocators/glibc/detect-findings.js';
import type { GlibcFindingInput } from '../../../src/allocators/glibc/detect-findings.js';
import { analyse } from '../../../src/analyse/inspect.js';
import { FINDINGS } from '../../../src/analyse/findings/index.js';
import type { Finding } from '../../../src/analyse/findings/index.js';
import type { FindingSpec } from '../../../src/analyse/findings/spec.js';
import { parseSmaps } from '../../../src/parse/smaps.js';
import { parseStatus } from '../../../src/parse/status.js';
import type { ArenaReport, InspectReport } from '../../../src/types.js';
import { MIB, mib, pct } from '../../../src/units.js';
import { fixtureSnapshot } from '../../fixture-snapshot.js';
import { CAPTURES, fixture } from '../../fixtures.js';

let real: InspectReport; // pinned-threads: main + 2 pinned + 2 trimmed thread arenas, 2 CPUs
beforeAll(async () => { real = analyse(await fixtureSnapshot('pinned-threads')); });

/** A quiet arena (nothing fires on it) from the real capture, with some figures changed. */
const arena = (over: Partial<ArenaReport> = {}, i = 1): ArenaReport => ({
  ...real.arenas[i]!, heldFreeRssBytes: 0, predictedTrimBytes: 0, pinnedTop: false, topBytes: 0, binFreeBytes: 0, join: 'memory', ...over,
});
function input(arenas: ArenaReport[], over: Partial<GlibcFindingInput> = {}): GlibcFindingInput {
  const vmas = parseSmaps(fixture('pinned-threads', 'smaps'));
  return { pid: 4242, vmas, status: parseStatus(fixture('pinned-threads', 'status')), env: {}, cpus: 2, rss: { ...real.rss, total: 1024 * MIB },
    arenas, mmapChunks: { count: 0, bytes: 0, rss: 0 }, trimThreshold: 128 * 1024, topInRest: true, ...over };
}
const kinds = (fs: Finding[]) => fs.map((f) => `${f.kind}:${f.severity}`);
const spec = (f: Finding) => (FINDINGS as Record<string, FindingSpec<unknown>>)[f.kind]!;

describe('held free memory: gap vs untrimmable, severities at their thresholds', () => {
  const gap = (bytes: number, total: number, trimmable: number) =>
    glibcFindings(input([arena({ heldFreeRssBytes: bytes, predictedTrimBytes: trimmable }, 0)], { rss: { ...real.rss, total } }));
  it('fires from 1 MiB', () => {
    expect(gap(MIB - 1, 1024 * MIB, MIB)).toEqual([]);
    expect(kinds(gap(MIB, 1024 * MIB, MIB))).toEqual(['held-free-gap:info']);
  });
  it('switches to held-free-untrimmable below a 25% trimmable share', () => {
    expect(kinds(gap(40 * MIB, 1024 * MIB, 10 * MIB))).toEqual(['held-free-gap:info']);
    expect(kinds(gap(40 * MIB, 1024 * MIB, 10 * MIB - 1))).toEqual(['held-free-untrimmable:info']);
  });
  it('critical at 25% of Rss and 64 MiB, warn at 10% and 8 MiB', () => {
    expect(kinds(gap(64 * MIB, 256 * MIB, 64 * MIB))).toEqual(['held-free-gap:critical']);
    expect(kinds(gap(64 * MIB, 256 * MIB + 4096, 64 * MIB))).toEqual(['held-free-gap:warn']);
    expect(kinds(gap(64 * MIB - 1, 128 * MIB, 64 * MIB))).toEqual(['held-free-gap:warn']);
    expect(kinds(gap(8 * MIB, 80 * MIB, 8 * MIB))).toEqual(['held-free-gap:warn']);
    expect(kinds(gap(8 * MIB, 80 * MIB + 4096, 8 * MIB))).toEqual(['held-free-gap:info']);
    expect(kinds(gap(8 * MIB - 1, 16 * MIB, 8 * MIB))).toEqual(['held-free-gap:info']);
  });
  it('carries its figures in data and writes them into the message', () => {
    const [f] = gap(64 * MIB, 256 * MIB, 20 * MIB);
    expect(f!.data).toEqual({ gapBytes: 64 * MIB, share: 0.25, trimmableBytes: 20 * MIB, pid: 4242 });
    expect(f!.bytes).toBe(64 * MIB);
    expect(f!.message).toBe(`${mib(64 * MIB)} of Rss (${pct(0.25)}) is memory malloc holds free; a trim would return about ${mib(20 * MIB)} now.`);
    expect(f!.hint).toContain('heapgap trim 4242');
  });
});

describe('pinned-top, thread-top-resident, mmap-chunks, no-top-figure, inferred-join', () => {
  it('pinned-top: any pinned arena; warn from 16 MiB of free bins', () => {
    expect(glibcFindings(input([arena({}, 0), arena()]))).toEqual([]);
    const fs = glibcFindings(input([arena({ pinnedTop: true, binFreeBytes: 16 * MIB }, 0), arena(), arena({ pinnedTop: true, binFreeBytes: 1 }, 3)]));
    expect(kinds(fs)).toEqual(['pinned-top:warn']);
    expect(fs[0]!.data).toEqual({ arenas: [expect.objectContaining({ index: 0, main: true, bytes: 16 * MIB }), expect.objectContaining({ index: 3, main: false, bytes: 1 })], trimThreshold: 128 * 1024 });
    expect(kinds(glibcFindings(input([arena({ pinnedTop: true, binFreeBytes: 16 * MIB - 1 }, 0)])))).toEqual(['pinned-top:info']);
  });
  it('thread-top-resident: thread tops >= the trim threshold, counted up to their held-free Rss', () => {
    const top = (topBytes: number, held: number, trimThreshold = 128 * 1024) => {
      const arenas = [arena({}, 0), arena({ topBytes, heldFreeRssBytes: held })];
      return kinds(glibcFindings(input(arenas, { trimThreshold, rss: { ...real.rss, total: 1 << 40 } })).filter((f) => f.kind === 'thread-top-resident'));
    };
    expect(top(MIB, MIB)).toEqual(['thread-top-resident:info']);
    expect(top(MIB, MIB - 1)).toEqual([]);
    expect(top(MIB - 1, 4 * MIB)).toEqual([]);
    expect(top(2 * MIB, 2 * MIB, 2 * MIB + 1)).toEqual([]);
    expect(top(32 * MIB, 32 * MIB)).toEqual(['thread-top-resident:warn']);
    // The main arena's top is trimmable: never counted here.
    expect(kinds(glibcFindings(input([arena({ topBytes: 8 * MIB, heldFreeRssBytes: 8 * MIB }, 0)])).filter((f) => f.kind === 'thread-top-resident'))).toEqual([]);
  });
  it('mmap-chunks from 16 MiB; no-top-figure without a top in rest; inferred-join on any inferred arena', () => {
    const chunks = (bytes: number) => kinds(glibcFindings(input([arena({}, 0)], { mmapChunks: { count: 3, bytes, rss: 5 } })));
    expect(chunks(16 * MIB - 1)).toEqual([]);
    expect(chunks(16 * MIB)).toEqual(['mmap-chunks:info']);
    expect(kinds(glibcFindings(input([arena({}, 0)], { topInRest: false })))).toEqual(['no-top-figure:info']);
    expect(kinds(glibcFindings(input([arena({}, 0), arena({ join: 'inferred' })])))).toEqual(['inferred-join:warn']);
  });
});

describe('arena-count', () => {
  // 5 arenas on 2 CPUs: cap 2. Arenas 0 and 1 hold the most live memory; the saving is what the
  // others keep resident as free: 1 MiB + 1 MiB + `held`.
  const helds = (held: number) => [100 * MIB, 100 * MIB, MIB, MIB, held];
  const five = (held: number) =>
    helds(held).map((h, i) => arena({ index: i, kind: i === 0 ? 'main' : 'thread', inUseBytes: (5 - i) * MIB, heldFreeRssBytes: h }, i));
  const count = (held: number, over: Partial<GlibcFindingInput> = {}) =>
    glibcFindings(input(five(held), { rss: { ...real.rss, total: 1 << 40 }, ...over })).filter((f) => f.kind === 'arena-count');
  it('fires from 4 MiB of saving, warn from 64 MiB, with its figures', () => {
    expect(count(2 * MIB - 1)).toEqual([]);
    expect(kinds(count(2 * MIB))).toEqual(['arena-count:info']);
    expect(kinds(count(62 * MIB - 1))).toEqual(['arena-count:info']);
    const [f] = count(62 * MIB);
    expect(f!.severity).toBe('warn');
    expect(f!.data).toEqual({ arenas: 5, threads: 5, cpus: 2, defaultLimit: 16, cap: 2, savingBytes: 64 * MIB });
    expect(f!.message).toBe(`5 arenas for 5 threads on 2 CPUs (default limit 16); capping at 2 could save up to ${mib(64 * MIB)}: `
      + 'the free memory the other arenas keep resident. How much of it comes back depends on how the threads\' peaks overlap.');
    expect(f!.hint).toContain('MALLOC_ARENA_MAX=2');
  });
  it('MALLOC_ARENA_MAX or glibc.malloc.arena_max at or below the cap suppresses it; above does not', () => {
    expect(count(10 * MIB, { env: { MALLOC_ARENA_MAX: '2' } })).toEqual([]);
    expect(count(10 * MIB, { env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' } })).toEqual([]);
    expect(count(10 * MIB, { env: { MALLOC_ARENA_MAX: '3' } })).toHaveLength(1);
    // The tunable wins over its alias, as in glibc.
    expect(count(10 * MIB, { env: { MALLOC_ARENA_MAX: '1', GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' } })).toHaveLength(1);
  });
  it('cap is min(CPUs, 4), at least 2', () => {
    expect(arenaAdvice(five(10 * MIB), 1, null)).toEqual({ cap: 2, saving: 12 * MIB });
    expect(arenaAdvice(five(10 * MIB), 3, null)).toEqual({ cap: 3, saving: 11 * MIB });
    expect(arenaAdvice(five(10 * MIB), 64, null)).toEqual({ cap: 4, saving: 10 * MIB });
    expect(arenaAdvice(five(10 * MIB).slice(0, 4), 64, null)).toBeNull();
  });
});

describe('trimFindings', () => {
  it('thread tops from 1 MiB, the brk pinned when main is, tcache always', () => {
    expect(kinds(trimFindings([arena({}, 0), arena({ topBytes: MIB, heldFreeRssBytes: MIB - 1 })]))).toEqual(['trim-tcache:info']);
    const fs = trimFindings([arena({ pinnedTop: true, binFreeBytes: 5 * MIB }, 0), arena({ topBytes: 3 * MIB, heldFreeRssBytes: 2 * MIB })]);
    expect(fs.map((f) => [f.kind, f.bytes])).toEqual([['trim-thread-tops', 2 * MIB], ['trim-brk-pinned', 5 * MIB], ['trim-tcache', null]]);
  });
});

describe('every finding of every capture has the registry\'s words for its data', () => {
  it.each(CAPTURES)('%s', async (name) => {
    const r = analyse(await fixtureSnapshot(name));
    for (const f of [...r.findings, ...trimFindings(r.arenas)] as Finding[]) {
      expect(f.message).toBe(spec(f).message(f.data));
      expect(f.hint).toBe(spec(f).hint(f.data));
    }
  });
});

describe('the environment through analyse', () => {
  it('a trim threshold above every bin total pins nothing; MALLOC_ARENA_MAX=2 drops arena-count', async () => {
    const r = analyse(await fixtureSnapshot('pinned-threads', { env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=67108864', MALLOC_ARENA_MAX: '2' } }));
    expect(r.arenas.every((a) => !a.pinnedTop)).toBe(true);
    expect(r.findings.map((f) => f.kind)).toEqual(['held-free-gap', 'inferred-join']);
    expect(r.arenaMax.configured).toBe(2);
  });
  it('MALLOC_TOP_PAD_ keeps that much of the main top out of the prediction', async () => {
    const plain = analyse(await fixtureSnapshot('python3-http-server-after-load'));
    const padded = analyse(await fixtureSnapshot('python3-http-server-after-load', { env: { MALLOC_TOP_PAD_: String(64 * 1024) } }));
    expect(plain.arenas[0]!.predictedTrimBytes - padded.arenas[0]!.predictedTrimBytes).toBe(64 * 1024);
  });
});
