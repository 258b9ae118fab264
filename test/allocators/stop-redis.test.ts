// Debian's redis-server: jemalloc's figures read in the stop against redis's own INFO memory
// (allocator_allocated/active/resident are jemalloc's stats.* as redis reads them), and a purge whose
// release matches the Rss drop, with redis still serving.
import { afterAll, describe, expect, it } from 'vitest';
import { detectProcess } from '../../src/allocators/detect-process.js';
import { analyseJemalloc } from '../../src/allocators/jemalloc/analyse.js';
import { prepareJemalloc } from '../../src/allocators/jemalloc/prepare.js';
import { jemallocSection } from '../../src/allocators/jemalloc/section.js';
import { redisMissing, startRedis } from '../helpers/redis.js';
import type { Redis } from '../helpers/redis.js';
import { readMaps, runStop } from '../helpers/stop-harness.js';

let redis: Redis | null = null;
afterAll(async () => {
  await redis?.stop();
});

describe.skipIf(redisMissing())('redis-server (Debian, jemalloc)', () => {
  // Filling redis (240,000 SETs) and two stops: about 15 s here, over 60 s at load 20 (the helpers'
  // own pipes allow 120 s each).
  it('reads allocated/active/resident within 3% of INFO memory; the purge\'s release matches the Rss drop; redis still answers', { timeout: 300_000 }, async () => {
    // decay off (MALLOC_CONF, read by the system jemalloc): the burst's dirty pages wait for the purge
    redis = await startRedis({ MALLOC_CONF: 'dirty_decay_ms:-1' });
    await redis.fill(0, 200_000, 300);
    await redis.del(0, 200_000, 2);
    // A burst that is deleted whole: its pages are dirty, what a purge returns (until decay does).
    await redis.fill(200_000, 240_000, 4000);
    await redis.del(200_000, 240_000, 1);
    const maps = await readMaps(redis.pid);
    const found = await detectProcess(redis.pid, maps);
    expect(found.serving).toBe('jemalloc');
    const p = found.present[0]!;
    const plan = await prepareJemalloc(redis.pid, p);
    // jemalloc's background thread purges the burst's pages over dirty_decay_ms (10 s): resident
    // moves while we look, so INFO memory is read right before and right after the stop.
    const infoBefore = await redis.memory();
    const run = await runStop(redis.pid, plan, 'inspect');
    expect(run.error).toBeNull();
    const info = await redis.memory();
    const a = analyseJemalloc(jemallocSection(run.collect, { object: p.object.path, prefix: p.prefix }), { pid: redis.pid, comm: 'redis-server', cpus: 2, threads: 5, env: {}, rssTotal: info.used_memory_rss! });
    for (const [mine, theirs] of [['allocated', 'allocator_allocated'], ['active', 'allocator_active'], ['resident', 'allocator_resident']] as const) {
      const lo = Math.min(infoBefore[theirs]!, info[theirs]!) * 0.97;
      const hi = Math.max(infoBefore[theirs]!, info[theirs]!) * 1.03;
      expect(a.stats[mine] as number, `${mine} ${String(a.stats[mine])} vs INFO ${infoBefore[theirs]}..${info[theirs]}`).toBeGreaterThanOrEqual(lo);
      expect(a.stats[mine] as number).toBeLessThanOrEqual(hi);
    }
    const rss = (t: string) => Number(/^Rss:\s+(\d+) kB/m.exec(t)![1]) * 1024;
    const trim = await runStop(redis.pid, plan, 'trim');
    expect(trim.error).toBeNull();
    const drop = rss(trim.rollupBefore!) - rss(trim.rollupAfter!);
    const { before, after, page } = trim.release as { before: Record<string, number>; after: Record<string, number>; page: number };
    const purgeable = (before['stats.arenas.4096.pdirty']! + before['stats.arenas.4096.pmuzzy']!) * page;
    expect(purgeable).toBeGreaterThan(8 << 20);
    // What jemalloc held as dirty/muzzy at the call is what left Rss.
    expect(Math.abs(drop - purgeable)).toBeLessThanOrEqual(Math.max(1 << 20, 0.1 * purgeable));
    expect(after['stats.arenas.4096.pdirty']).toBeLessThan(256);
    expect(await redis.cli('PING')).toBe('PONG');
    expect(await redis.cli('GET', 'key:1')).toBe('x'.repeat(300));
  });
});
