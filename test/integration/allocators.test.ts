// inspect and trim from the built CLI on processes whose malloc is not glibc's: C targets under
// jemalloc, tcmalloc and mimalloc (LD_PRELOAD), python3 under tcmalloc and mimalloc, Debian's
// redis-server, jemalloc linked statically next to glibc, and musl. Every figure is checked against
// the reading the process takes of itself in-process, or against smaps read independently.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { InspectReport, TrimReport } from '../../src/types.js';
import { JEMALLOC_STATIC, missing, startAllocTarget } from '../helpers/alloc-targets.js';
import type { AllocTarget, OtherAllocator, SelfReading } from '../helpers/alloc-targets.js';
import { runCli } from '../helpers/cli.js';
import { procState } from '../helpers/proc.js';
import { redisMissing, startRedis } from '../helpers/redis.js';
import { testDir } from '../helpers/scratch.js';
import type { Redis } from '../helpers/redis.js';

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

const rollupRss = (pid: number) => Number(/^Rss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) * 1024;
const within = (actual: number, expected: number, share: number, what = '') =>
  expect(Math.abs(actual - expected), `${what} ${actual} vs ${expected}`).toBeLessThanOrEqual(share * Math.max(1, expected));

async function inspect(pid: number): Promise<InspectReport> {
  const r = await runCli(['inspect', String(pid), '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as InspectReport;
  expect(doc.schema).toBe('heapgap.inspect/2');
  // Rss is attributed in full, whoever's memory it is.
  expect(doc.breakdown.reduce((s, b) => s + b.rss, 0)).toBe(doc.rss.total);
  return doc;
}

async function trim(pid: number, ...extra: string[]): Promise<{ doc: TrimReport; before: number; after: number }> {
  const before = rollupRss(pid);
  const r = await runCli(['trim', String(pid), '--json', ...extra]);
  expect(r.exitCode, r.stderr).toBe(0);
  const after = rollupRss(pid);
  const doc = JSON.parse(r.stdout) as TrimReport;
  expect(doc.schema).toBe('heapgap.trim/2');
  return { doc, before, after };
}

function healthy(pid: number): void {
  const st = procState(pid);
  expect(st.alive).toBe(true);
  expect(st.tracerPid).toBe(0);
  expect(['S', 'R']).toContain(st.state);
}

const stats = (doc: InspectReport, name: string) => doc.allocatorStats![name] as Record<string, number>;

async function cTarget(allocator: OtherAllocator): Promise<AllocTarget> {
  const t = await startAllocTarget({ c: ['2', '20000'] }, allocator);
  running.push(t);
  return t;
}

describe.skipIf(missing('jemalloc'))('jemalloc (LD_PRELOAD)', () => {
  it('inspect: mallctl figures within 3% of the target\'s own, arenas with purgeable and held-free; trim purges what was predicted', async () => {
    const t = await cTarget('jemalloc');
    const doc = await inspect(t.pid);
    const self: SelfReading = await t.readSelf();
    expect(doc.target.allocator).toBe('jemalloc');
    expect(doc.target.allocators).toEqual(['jemalloc']);
    const je = stats(doc, 'jemalloc');
    for (const k of ['allocated', 'active', 'resident', 'mapped', 'retained', 'dirty', 'muzzy']) within(je[k]!, Number(self[k]), 0.03, k);
    // The calling thread's first mallctl sets up its own jemalloc state: metadata moves by ~100 KiB.
    within(je.metadata!, Number(self.metadata), 0.1, 'metadata');
    const arenas = doc.arenas.filter((a) => a.allocator === 'jemalloc');
    expect(arenas.length).toBeGreaterThanOrEqual(3);
    for (const a of arenas) {
      expect(a.purgeableBytes).toBeGreaterThan(0);
      expect(a.heldFreeRssBytes).toBeGreaterThanOrEqual(a.purgeableBytes!);
      expect(a.topBytes).toBeNull();
    }
    expect(doc.findings.find((f) => f.kind === 'jemalloc-purgeable')?.hint).toContain('MALLOC_CONF=background_thread:true');
    // A capture renders later exactly as inspect did; its JSON reads back (report, diff).
    const file = join(testDir('heapgap-alloc-capture-'), 'je.capture');
    expect((await runCli(['capture', String(t.pid), '-o', file])).exitCode).toBe(0);
    const replay = await runCli(['report', file, '--json']);
    expect(replay.exitCode, replay.stderr).toBe(0);
    const again = JSON.parse(replay.stdout) as InspectReport;
    within(stats(again, 'jemalloc').allocated!, je.allocated!, 0.01, 'captured allocated');
    // (the threads heapgap and the target's own reading called from may have been given arenas since)
    expect(again.arenas.length).toBeGreaterThanOrEqual(arenas.length);
    expect(again.arenas.every((a) => a.allocator === 'jemalloc')).toBe(true);
    const inspectFile = `${file}.json`;
    writeFileSync(inspectFile, JSON.stringify(doc));
    expect((await runCli(['diff', inspectFile, file])).exitCode).toBe(0);
    const { doc: tr, before, after } = await trim(t.pid, '--settle', '500ms');
    expect(tr.allocator).toBe('jemalloc');
    within(tr.releasedBytes!, tr.predictedBytes!, 0.1, 'released vs predicted');
    // The report's release agrees with Rss read independently around the CLI run.
    within(tr.releasedBytes!, before - after, 0.05, 'released vs independent');
    expect(tr.perArena.every((p) => p.allocator === 'jemalloc' && p.releasedBytes !== null)).toBe(true);
    expect(tr.settled?.afterMs).toBe(500);
    healthy(t.pid);
    expect(Number((await t.readSelf()).dirty)).toBeLessThan(1 << 20);
  });
});

describe.skipIf(missing('tcmalloc'))('tcmalloc (LD_PRELOAD)', () => {
  it('inspect: the numeric properties within 3% of the target\'s own, [heap] claimed; trim returns the page heap\'s free spans', async () => {
    const t = await cTarget('tcmalloc');
    const doc = await inspect(t.pid);
    const self = await t.readSelf();
    const tc = stats(doc, 'tcmalloc');
    for (const k of ['allocated', 'heapSize', 'pageheapFree', 'pageheapUnmapped', 'centralCacheFree', 'transferCacheFree', 'threadCacheFree']) within(tc[k]!, Number(self[k]), 0.03, k);
    expect(doc.breakdown.find((b) => b.category === 'arena')!.rss).toBeGreaterThan(t.truth.live!.usable * 0.9);
    const [arena] = doc.arenas.filter((a) => a.allocator === 'tcmalloc');
    expect(arena!.purgeableBytes).toBe(tc.pageheapFree);
    const { doc: tr, before, after } = await trim(t.pid);
    within(tr.releasedBytes!, tc.pageheapFree!, 0.1, 'released vs page heap free');
    within(tr.releasedBytes!, before - after, 0.05, 'released vs independent');
    healthy(t.pid);
  });
});

describe.skipIf(missing('mimalloc'))('mimalloc (LD_PRELOAD)', () => {
  it('inspect: committed within 5% of the target\'s own, segments claimed; trim releases', async () => {
    const t = await cTarget('mimalloc');
    const doc = await inspect(t.pid);
    const self = await t.readSelf();
    const mi = stats(doc, 'mimalloc');
    within(mi.committed!, Number(self.committed), 0.05, 'committed');
    expect(doc.allocatorStats!.mimalloc!.exact).toBe(true);
    expect(doc.breakdown.find((b) => b.category === 'arena')!.rss).toBeGreaterThan(t.truth.live!.usable * 0.9);
    const { doc: tr, before, after } = await trim(t.pid);
    expect(tr.allocator).toBe('mimalloc');
    // mi_collect reaches only the calling thread's heap; the report says which thread that was.
    expect(Math.abs(tr.releasedBytes! - (before - after))).toBeLessThanOrEqual(1 << 20);
    expect(tr.findings.map((f) => f.kind)).toContain('mimalloc-collect-one-thread');
    healthy(t.pid);
  });
});

describe.each(['tcmalloc', 'mimalloc'] as const)('python3 under %s', (allocator) => {
  it.skipIf(missing(allocator))('figures within 5% of what the interpreter reads about itself; a trim that really releases', async () => {
    const t = await startAllocTarget({ python: ['60000', '2000'] }, allocator);
    running.push(t);
    const doc = await inspect(t.pid);
    const self = await t.readSelf();
    expect(doc.target.allocator).toBe(allocator);
    const s = stats(doc, allocator);
    const keys = allocator === 'tcmalloc' ? ['allocated', 'heapSize', 'pageheapFree'] : ['committed', 'currentRss'];
    for (const k of keys) within(s[k]!, Number(self[k]), 0.05, k);
    const { doc: tr, before, after } = await trim(t.pid);
    expect(before - after).toBeGreaterThan(30 << 20);
    within(tr.releasedBytes!, before - after, 0.05, 'released vs independent');
    healthy(t.pid);
    await t.readSelf();
  });
});

describe.skipIf(redisMissing())('Debian redis-server (jemalloc, dynamically linked)', () => {
  it('allocated/active/resident within 3% of INFO memory; the trim\'s release matches the Rss drop; redis still serves', async () => {
    // Debian's redis links the system jemalloc, which reads MALLOC_CONF: with decay off, the burst's
    // dirty pages wait for the purge however slow this machine is (by default jemalloc's background
    // thread returns them within dirty_decay_ms, 10 s, and a late trim finds nothing left).
    const redis: Redis = await startRedis({ MALLOC_CONF: 'dirty_decay_ms:-1' });
    running.push(redis);
    await redis.fill(0, 200_000, 300);
    await redis.del(0, 200_000, 2);
    await redis.fill(200_000, 240_000, 4000);
    await redis.del(200_000, 240_000, 1);
    // jemalloc's background thread purges over dirty_decay_ms while we look: INFO is read on both sides.
    const infoBefore = await redis.memory();
    const doc = await inspect(redis.pid);
    const infoAfter = await redis.memory();
    expect(doc.target.allocator).toBe('jemalloc');
    const je = stats(doc, 'jemalloc');
    for (const [mine, theirs] of [['allocated', 'allocator_allocated'], ['active', 'allocator_active'], ['resident', 'allocator_resident']] as const) {
      const lo = Math.min(infoBefore[theirs]!, infoAfter[theirs]!) * 0.97;
      const hi = Math.max(infoBefore[theirs]!, infoAfter[theirs]!) * 1.03;
      expect(je[mine], `${mine} ${je[mine]} vs INFO ${infoBefore[theirs]}..${infoAfter[theirs]}`).toBeGreaterThanOrEqual(lo);
      expect(je[mine]).toBeLessThanOrEqual(hi);
    }
    expect(doc.findings.map((f) => f.kind)).toContain('jemalloc-fragmented');
    const { doc: tr, before, after } = await trim(redis.pid);
    // Rss read around the CLI run can only have dropped more than in the stop (jemalloc's background
    // thread purges too); in the stop, the release is what jemalloc held as dirty at the call.
    expect(before - after).toBeGreaterThanOrEqual(tr.releasedBytes! - (1 << 20));
    within(tr.releasedBytes!, tr.predictedBytes!, 0.1, 'released vs predicted');
    expect(tr.releasedBytes!).toBeGreaterThan(8 << 20);
    expect(await redis.cli('PING')).toBe('PONG');
    expect(await redis.cli('GET', 'key:1')).toBe('x'.repeat(300));
    healthy(redis.pid);
  });
});

describe.skipIf(!existsSync(JEMALLOC_STATIC.path))(`two allocators: jemalloc linked statically next to glibc (needs ${JEMALLOC_STATIC.pkg})`, () => {
  it('names both, reads both in one stop, and trims the one asked for', async () => {
    const t = await startAllocTarget({ staticJemalloc: ['1', '20000'] }, null);
    running.push(t);
    const doc = await inspect(t.pid);
    expect(doc.target.allocator).toBe('glibc');
    expect(doc.target.allocators).toEqual(['glibc', 'jemalloc']);
    expect(doc.arenas.some((a) => (a.allocator ?? 'glibc') === 'glibc')).toBe(true);
    within(stats(doc, 'jemalloc').allocated!, Number((await t.readSelf()).allocated), 0.03, 'allocated');
    const { doc: tr } = await trim(t.pid, '--allocator', 'jemalloc');
    expect(tr.allocator).toBe('jemalloc');
    expect(tr.releasedBytes!).toBeGreaterThan(8 << 20);
    healthy(t.pid);
  });
});
