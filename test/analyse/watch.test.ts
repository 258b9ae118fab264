// watchTick / watchSummary on the multi-heap capture: one thread arena over three 64 MiB heaps.
import { beforeAll, describe, expect, it } from 'vitest';
import { analyse, rssFigures } from '../../src/analyse/inspect.js';
import { watchSummary, watchTick } from '../../src/analyse/watch.js';
import type { WatchTick } from '../../src/analyse/watch.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import type { InspectReport } from '../../src/types.js';
import { fixtureSnapshot, layoutFromTruth, truthOf, withRss } from '../fixture-snapshot.js';
import { fixture } from '../fixtures.js';

/** sampleRss's result (its type has moved between modules; the tick's parameter is what counts). */
type RssSample = Parameters<typeof watchTick>[1];

const KB = 1024;
const T0 = Date.parse('2026-11-23T02:10:57.000Z');
const SMAPS = fixture('multi-heap', 'smaps');
const BASES = truthOf('multi-heap').threads[0]!.heapBases;
const ARENA = `0x${(BigInt(BASES[0]!) + 0x30n).toString(16)}`; // its malloc_state, as heap_info's ar_ptr says
let latest: InspectReport;

/**
 * What sampleRss reads from the live target, here from the capture (heap_info owners from truth);
 * `stranger`: an arena listed first whose heap_info names a malloc_state the inspect did not see.
 */
async function sample(smaps: string, atMs: number, stranger?: string): Promise<RssSample> {
  const snap = await fixtureSnapshot('multi-heap', { smaps, layout: layoutFromTruth('multi-heap') });
  const claims = snap.sections.glibc!.claims;
  const heaps = BASES.map((b) => ({ start: BigInt(b), end: BigInt(b) + 64n * 1024n * 1024n }));
  const owners = new Map(stranger ? [[stranger, []], [ARENA, heaps]] : [[ARENA, heaps]]);
  return { takenAt: T0 + atMs, vmas: parseSmaps(smaps), claims, owners, stackPointers: [] };
}

beforeAll(async () => { latest = analyse(await fixtureSnapshot('multi-heap', { layout: layoutFromTruth('multi-heap') })); });

describe('watchTick', () => {
  it('Rss, layers and arena Rss from smaps; in use from the latest inspect', async () => {
    const t = watchTick(77, await sample(SMAPS, 1500), T0, latest, false);
    expect(t).toMatchObject({ schema: 'heapgap.watch/1', pid: 77, at: '2026-11-23T02:10:58.500Z', elapsedMs: 1500, mallocInfo: false, stoppedMs: null });
    expect(t.rss).toEqual(rssFigures(parseSmaps(SMAPS)));
    expect(t.layers).toEqual(Object.fromEntries(latest.breakdown.map((b) => [b.category, b.rss])));
    expect(t.arenas).toEqual(latest.arenas.map((a) => ({
      key: a.kind === 'main' ? 'main' : a.address, index: a.index, rssBytes: a.rssBytes, inUseBytes: a.inUseBytes, heldFreeRssBytes: a.heldFreeRssBytes,
    })));
    expect(t.arenas[1]!.rssBytes).toBe(157335552); // the three heaps' rw parts, all resident (README)
  });

  it('a heap that lost Rss since the inspect: held free follows Rss, in use stays the inspect\'s', async () => {
    const t = watchTick(77, await sample(withRss(SMAPS, BASES[1]!.slice(2), 1024), 2000), T0, latest, false);
    const a = t.arenas[1]!;
    expect(a.rssBytes).toBe(157335552 - 23207936 + 1024 * KB);
    expect(a.inUseBytes).toBe(latest.arenas[1]!.inUseBytes);
    expect(a.heldFreeRssBytes).toBe(Math.max(0, a.rssBytes - latest.arenas[1]!.inUseBytes));
    expect(Object.values(t.layers).reduce((s, v) => s + v!, 0)).toBe(t.rss.total);
  });

  it('a fresh malloc_info tick carries the stop; an arena the inspect does not know has no figures and sorts last', async () => {
    const withPause = { ...latest, pause: { ...latest.pause, stoppedMs: 12.5 } };
    const t = watchTick(77, await sample(SMAPS, 0, '0x7f4200000030'), T0, withPause, true);
    expect([t.mallocInfo, t.stoppedMs]).toEqual([true, 12.5]);
    const [main, thread] = latest.arenas as [InspectReport['arenas'][number], InspectReport['arenas'][number]];
    expect(t.arenas.map((a) => [a.key, a.index, a.inUseBytes, a.heldFreeRssBytes])).toEqual([
      ['main', 0, main.inUseBytes, main.heldFreeRssBytes],
      [ARENA, 1, thread.inUseBytes, thread.heldFreeRssBytes],
      ['0x7f4200000030', null, null, null],
    ]);
    expect(watchTick(77, await sample(SMAPS, 0), T0, null, false).arenas.every((a) => a.index === null && a.inUseBytes === null)).toBe(true);
  });
});

describe('watchSummary', () => {
  it('first, last, min and max of Rss and of each arena\'s Rss', async () => {
    const rss = [67063808 / KB, 1024, 30000]; // heap 0's Rss per tick, kB: as captured, trimmed, regrown
    const ticks: WatchTick[] = [];
    for (const [i, kb] of rss.entries()) ticks.push(watchTick(77, await sample(withRss(SMAPS, BASES[0]!.slice(2), kb), i * 1000), T0, latest, i === 0));
    const s = watchSummary(ticks);
    const totals = ticks.map((t) => t.rss.total);
    const [main, arena] = [0, 1].map((i) => ticks.map((t) => t.arenas[i]!.rssBytes)) as [number[], number[]];
    expect(s).toEqual({
      schema: 'heapgap.watch-summary/1', pid: 77, ticks: 3, durationMs: 2000,
      rss: { first: totals[0], last: totals[2], min: Math.min(...totals), max: Math.max(...totals) },
      arenas: [
        { key: 'main', index: 0, first: main[0], last: main[2], max: main[0] },
        { key: ARENA, index: 1, first: arena[0], last: arena[2], max: arena[0] },
      ],
    });
    expect(totals[0]! - totals[1]!).toBe(67063808 - 1024 * KB);
  });

  it('no ticks: zeros, not Infinity', () => {
    expect(watchSummary([])).toEqual({ schema: 'heapgap.watch-summary/1', pid: 0, ticks: 0, durationMs: 0, rss: { first: 0, last: 0, min: 0, max: 0 }, arenas: [] });
  });
});
