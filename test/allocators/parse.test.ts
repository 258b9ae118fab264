// The pure halves on captures from live targets (fixtures/allocators/): decoding what stop.py read,
// and the analyses, against the readings the targets took of themselves right after the stop.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseJemalloc } from '../../src/allocators/jemalloc/analyse.js';
import { jemallocSection } from '../../src/allocators/jemalloc/section.js';
import { analyseMimalloc, purgeEnvLine, versionText } from '../../src/allocators/mimalloc/analyse.js';
import { segmentCandidates } from '../../src/allocators/mimalloc/prepare.js';
import { decodeStatsBlock } from '../../src/allocators/mimalloc/stats-block.js';
import { parseMimallocStats } from '../../src/allocators/mimalloc/stats-text.js';
import { analyseTcmalloc } from '../../src/allocators/tcmalloc/analyse.js';
import { parseTcmallocStats } from '../../src/allocators/tcmalloc/get-stats.js';
import { ownershipCandidates } from '../../src/allocators/tcmalloc/prepare.js';
import { tcmallocSection } from '../../src/allocators/tcmalloc/section.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { REPO_ROOT } from '../helpers/targets.js';

const load = (name: string) => {
  const dir = join(REPO_ROOT, 'fixtures', 'allocators', name);
  return {
    collect: JSON.parse(readFileSync(join(dir, 'collect.json'), 'utf8')) as Record<string, unknown>,
    self: JSON.parse(readFileSync(join(dir, 'self.json'), 'utf8')) as { truth: { live: { usable: number }; freed: { usable: number } }; after: Record<string, number> },
    vmas: parseSmaps(readFileSync(join(dir, 'smaps'), 'latin1'), 'smaps'),
  };
};
const input = { pid: 1, comm: 'alloc-stats', cpus: 2, threads: 4, env: {}, rssTotal: 300 << 20 };
const within = (actual: number, expected: number, share: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(share * Math.max(1, expected));

describe('jemalloc', () => {
  const f = load('jemalloc-alloc-stats');
  const s = jemallocSection(f.collect, { object: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', prefix: '' });
  const a = analyseJemalloc(s, input);

  it('gives mallctl\'s figures under the contract\'s names, agreeing with the target\'s own reading', () => {
    for (const k of ['allocated', 'active', 'resident', 'mapped', 'retained', 'metadata', 'dirty', 'muzzy']) within(a.stats[k] as number, f.self.after[k]!, 0.03);
    expect(a.stats.dirty).toBe(s.pdirty * s.page);
  });

  it('splits held free into purgeable (dirty + muzzy) and the rest, arena by arena', () => {
    expect(a.stats.purgeableBytes).toBe((s.pdirty + s.pmuzzy) * s.page);
    expect(a.stats.notPurgeableBytes).toBe(s.active - s.allocated + (s.tcacheBytes ?? 0));
    // The freed halves: whole 64 KiB blocks became dirty pages, small ones holes in slabs.
    within(a.stats.purgeableBytes as number, f.self.truth.freed.usable, 0.05);
    const sum = (k: 'inUseBytes' | 'purgeableBytes') => a.arenas.reduce((t, x) => t + (x[k] ?? 0), 0);
    within(sum('inUseBytes'), s.allocated, 0.01);
    within(sum('purgeableBytes'), a.stats.purgeableBytes as number, 0.01);
    for (const arena of a.arenas) {
      expect(arena.allocator).toBe('jemalloc');
      expect(arena.heldFreeRssBytes).toBe((arena.purgeableBytes ?? 0) + (arena.notPurgeableBytes ?? 0));
    }
    expect(a.claims).toEqual([]);
  });

  it('words its findings in jemalloc\'s terms with the exact environment line', () => {
    const purge = a.findings.find((x) => x.kind === 'jemalloc-purgeable')!;
    expect(purge.hint).toContain('MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0');
    expect(purge.message).toContain('dirty_decay_ms (10000 ms)');
    const je = analyseJemalloc({ ...s, prefix: 'je_' }, { ...input, comm: 'redis-server' });
    expect(je.findings.find((x) => x.kind === 'jemalloc-purgeable')!.hint).toContain('JE_MALLOC_CONF=');
    expect(je.findings.find((x) => x.kind === 'jemalloc-purgeable')!.hint).toContain('MEMORY PURGE');
  });
});

describe('tcmalloc', () => {
  const f = load('tcmalloc-alloc-stats');
  const s = tcmallocSection(f.collect, '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4', f.vmas);
  const a = analyseTcmalloc(s, input);

  it('reads GetStats\' MALLOC: block, the same figures as the properties', () => {
    const t = parseTcmallocStats(f.collect.stats as string);
    const p = f.collect.properties as Record<string, number>;
    expect(t.inUse).toBe(p['generic.current_allocated_bytes']);
    expect(t.pageheapFree).toBe(p['tcmalloc.pageheap_free_bytes']);
    expect(t.threadCacheFree).toBe(p['tcmalloc.thread_cache_free_bytes']);
    expect(t.pageSize).toBe(8192);
    expect(t.inUse! + t.pageheapFree! + t.centralCacheFree! + t.transferCacheFree! + t.threadCacheFree! + t.metadata!).toBe(t.actualMemoryUsed);
  });

  it('agrees with the target\'s own reading and claims [heap]', () => {
    for (const k of ['allocated', 'heapSize', 'pageheapFree', 'centralCacheFree', 'transferCacheFree', 'threadCacheFree']) within(a.stats[k] as number, f.self.after[k]!, 0.03);
    const heap = f.vmas.find((v) => v.pathname === '[heap]')!;
    expect(a.claims.map((c) => c.start)).toContain(heap.start);
    expect(a.arenas[0]!.purgeableBytes).toBe(a.stats.pageheapFree);
    expect(a.arenas[0]!.notPurgeableBytes).toBe((a.stats.centralCacheFree as number) + (a.stats.transferCacheFree as number) + (a.stats.threadCacheFree as number));
    expect(a.findings.map((x) => x.kind)).toContain('tcmalloc-pageheap-free');
  });

  it('probes [heap] first, then the largest anonymous mappings', () => {
    const c = ownershipCandidates(f.vmas);
    expect(BigInt(c[0]!.start)).toBe(f.vmas.find((v) => v.pathname === '[heap]')!.start);
    expect(c[0]!.probes.length).toBe(16);
  });
});

describe('mimalloc', () => {
  const f = load('mimalloc-alloc-stats');
  const info = f.collect.processInfo as Record<string, number>;

  it('finds its statistics block by the committed figures and decodes it only when consistent', () => {
    const b = decodeStatsBlock(f.collect.statsBlocks as never, { current: info.currentCommit!, peak: info.peakCommit! })!;
    expect(b).not.toBeNull();
    expect(b.committed.current).toBe(info.currentCommit);
    // The printed text (rounded down to a tenth of a unit) brackets the exact figures.
    const printed = parseMimallocStats(f.collect.statsText as string);
    const r = printed.reserved!.current!;
    expect(b.reserved.current).toBeGreaterThanOrEqual(r.value);
    expect(b.reserved.current).toBeLessThan(r.value + r.precision);
    expect(printed.threads!.current!.value).toBe(b.threads.current);
    // A candidate whose counters do not add up is refused: reserved.allocated (mi_stats_t starts
    // 112 bytes before the matched {peak, current}; reserved is its third 32-byte counter) changed.
    const broken = (f.collect.statsBlocks as { bytes: string; match: number }[]).map((c) => {
      const buf = Buffer.from(c.bytes, 'hex');
      buf[c.match - 112 + 64] ^= 0x10;
      return { ...c, bytes: buf.toString('hex') };
    });
    expect(decodeStatsBlock(broken as never, { current: info.currentCommit!, peak: info.peakCommit! })).toBeNull();
  });

  it('names the version\'s own options in its advice', () => {
    expect(versionText(209)).toBe('2.0.9');
    expect(purgeEnvLine(209)).toContain('MIMALLOC_DECOMMIT_DELAY=0');
    expect(purgeEnvLine(212)).toContain('MIMALLOC_PURGE_DELAY=0');
  });

  it('asks about every 32 MiB-aligned address of anonymous read-write mappings', () => {
    const c = segmentCandidates(f.vmas).map((x) => BigInt(x));
    expect(c.length).toBeGreaterThan(0);
    for (const a of c) expect(a % (32n << 20n)).toBe(0n);
    void analyseMimalloc;
  });
});
