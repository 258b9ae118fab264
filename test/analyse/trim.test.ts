// analyseTrim: released bytes per arena from a before/after smaps pair. The "after" smaps is the
// real capture with the Rss of some VMAs lowered, which is what malloc_trim's madvise does.
import { beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/analyse/inspect.js';
import { analyseTrim } from '../../src/analyse/trim.js';
import { trimFindings } from '../../src/allocators/glibc/detect-findings.js';
import { parseDocument } from '../../src/parse/capture.js';
import type { InspectReport } from '../../src/types.js';
import { fixtureSnapshot, withRss } from '../fixture-snapshot.js';
import { fixture } from '../fixtures.js';

const KB = 1024;
const SMAPS = fixture('pinned-threads', 'smaps');
const MAIN = '55a311c22000'; // [heap]
const PINNED = ['7f93e0000000', '7f93e8000000']; // the two pinned thread heaps (truth.json)

const rssKb = (smaps: string, start: string) => Number(new RegExp(`^${start}-[\\s\\S]*?^Rss:\\s+(\\d+) kB`, 'm').exec(smaps)![1]);

let inspect: InspectReport;
beforeAll(async () => { inspect = analyse(await fixtureSnapshot('pinned-threads')); });
const indexOwning = (base: string) => inspect.arenas.find((a) => a.heaps.some((h) => h.start === `0x${base}`))!.index;

describe('analyseTrim', () => {
  it('measures what each arena released, and the process as a whole', () => {
    let after = withRss(SMAPS, MAIN, rssKb(SMAPS, MAIN) - 12288);
    after = withRss(after, PINNED[0]!, 300);
    after = withRss(after, PINNED[1]!, 12);
    const t = analyseTrim(inspect, 0, { smapsAfter: after, returned: 1 });
    const released = new Map([[0, 12288 * KB], [indexOwning(PINNED[0]!), (12812 - 300) * KB], [indexOwning(PINNED[1]!), (12812 - 12) * KB]]);
    const total = [...released.values()].reduce((a, b) => a + b, 0);
    expect(t.arenas.map((a) => [a.index, a.releasedBytes])).toEqual(inspect.arenas.map((a) => [a.index, released.get(a.index) ?? 0]));
    expect(t.arenas.map((a) => a.afterRss)).toEqual(inspect.arenas.map((a) => a.rssBytes - (released.get(a.index) ?? 0)));
    expect(t.releasedBytes).toBe(total);
    expect(t.after!.rss.total).toBe(inspect.rss.total - total);
    expect(t.after!.rss.anon).toBe(inspect.rss.anon - total);
    expect(t.after!.arenas.map((a) => a.rssBytes)).toEqual(t.arenas.map((a) => a.afterRss));
    expect(t.before).toEqual({ rss: inspect.rss, arenas: inspect.arenas.map((a) => ({ index: a.index, rssBytes: a.rssBytes })) });
    expect(t.perArena).toEqual(t.arenas.map((a) => ({
      index: a.index, allocator: 'glibc', rssBefore: a.beforeRss, rssAfter: a.afterRss, releasedBytes: a.releasedBytes, predictedBytes: a.predictedBytes,
    })));
    expect(t.arenas.map((a) => a.predictedBytes)).toEqual(inspect.arenas.map((a) => a.predictedTrimBytes));
    expect(t).toMatchObject({ schema: 'heapgap.trim/2', allocator: 'glibc', pad: 0, dryRun: false, returned: 1, settled: null });
    expect(t.predictedBytes).toBe(inspect.totals.predictedTrimBytes);
    expect(t.findings).toEqual(trimFindings(inspect.arenas));
    expect(t.findings.map((f) => f.kind)).toEqual(['trim-brk-pinned', 'trim-tcache']);
  });

  it('a [heap] that brk shrank still counts as the main arena\'s', () => {
    const after = withRss(SMAPS, MAIN, 512, '55a311d22000'); // 1 MiB left of the brk area, 512 KiB of it resident
    const t = analyseTrim(inspect, 0, { smapsAfter: after, returned: 1 });
    expect(t.arenas[0]!.afterRss).toBe(512 * KB);
    expect(t.arenas[0]!.releasedBytes).toBe(inspect.arenas[0]!.rssBytes - 512 * KB);
    expect(t.arenas.slice(1).every((a) => a.releasedBytes === 0)).toBe(true);
  });

  it('a [heap] that grew (brk moved up) is still the main arena\'s, and only its', () => {
    const after = withRss(SMAPS, MAIN, rssKb(SMAPS, MAIN) + 1024, '55a3129b5000'); // 1 MiB more brk area, all resident
    const t = analyseTrim(inspect, 0, { smapsAfter: after, returned: 0 });
    expect(t.arenas.map((a) => a.releasedBytes)).toEqual(inspect.arenas.map((a) => (a.index === 0 ? -1024 * KB : 0)));
    expect(t.releasedBytes).toBe(-1024 * KB);
  });

  it('malloc_trim\'s return is 0 or 1, never a byte count; nothing released is 0 B, not null', () => {
    expect(analyseTrim(inspect, 0, { smapsAfter: SMAPS, returned: 0 })).toMatchObject({ returned: 0, releasedBytes: 0 });
    expect(analyseTrim(inspect, 0, { smapsAfter: SMAPS, returned: 7 }).returned).toBe(1);
    expect(analyseTrim(inspect, 0, { smapsAfter: SMAPS, returned: null }).returned).toBeNull();
  });

  it('a dry run: no after side, nothing measured, the prediction kept', () => {
    const t = analyseTrim(inspect, 4096, null);
    expect(t).toMatchObject({ dryRun: true, pad: 4096, returned: null, after: null, releasedBytes: null, predictedBytes: inspect.totals.predictedTrimBytes });
    expect(t.arenas.every((a) => a.afterRss === null && a.releasedBytes === null)).toBe(true);
  });

  it('a capture with its after-smaps replays through `report` to the same trim', async () => {
    const smapsAfter = withRss(SMAPS, PINNED[0]!, 300);
    const snap = { ...(await fixtureSnapshot('pinned-threads')), trim: { pad: 0, returned: 1, smapsAfter } };
    const loaded = parseDocument(JSON.stringify(snap), 'trim-capture.json');
    if (loaded.kind !== 'capture' || !loaded.snapshot.trim) throw new Error('expected a capture with a trim');
    const replayed = analyseTrim(analyse(loaded.snapshot), loaded.snapshot.trim.pad, loaded.snapshot.trim);
    expect(replayed).toEqual(analyseTrim(inspect, 0, { smapsAfter, returned: 1 }));
    expect(replayed.releasedBytes).toBe((12812 - 300) * KB);
  });
});
