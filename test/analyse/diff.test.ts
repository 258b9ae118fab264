// diffReports: findings matched by kind + subject (not text), arenas by address, /1 documents too.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffReports } from '../../src/analyse/diff.js';
import { finding, findingKey } from '../../src/analyse/findings/index.js';
import { analyse } from '../../src/analyse/inspect.js';
import { parseDocument } from '../../src/parse/capture.js';
import type { ArenaReport, InspectReport } from '../../src/types.js';
import { MIB } from '../../src/units.js';
import { fixtureSnapshot } from '../fixture-snapshot.js';

const v1 = (): InspectReport => {
  const text = readFileSync(new URL('../../fixtures/reports/inspect-api-server-four-arenas.json', import.meta.url), 'utf8');
  const loaded = parseDocument(text, 'inspect-api-server-four-arenas.json');
  if (loaded.kind !== 'inspect') throw new Error('expected an inspect document');
  return loaded.report;
};
const pinned = (arenas: number[], bytes: number, address: (index: number) => string | null = () => null) =>
  finding('pinned-top', 'warn', bytes, { arenas: arenas.map((index) => ({ index, address: address(index), main: index === 0, bytes })), trimThreshold: 131072 });

describe('findingKey', () => {
  it('is kind and subject: the figures do not take part', () => {
    // the subject is the arenas' addresses (numbers shift when an arena is created), #n where unknown
    expect(findingKey(pinned([0, 3], MIB))).toBe('pinned-top|main,#3');
    expect(findingKey(pinned([0, 3], MIB, (i) => `0x${i}0`))).toBe('pinned-top|main,0x30');
    expect(findingKey(pinned([0, 3], 99 * MIB))).toBe(findingKey(pinned([0, 3], MIB)));
    expect(findingKey(pinned([0], MIB))).not.toBe(findingKey(pinned([0, 3], MIB)));
    const gap = (b: number) => finding('held-free-gap', 'info', b, { gapBytes: b, share: 0.5, trimmableBytes: b, pid: 1 });
    expect(findingKey(gap(MIB))).toBe('held-free-gap|');
    expect(findingKey(gap(2 * MIB))).toBe(findingKey(gap(MIB)));
  });
  it('a finding without data (inspect/1) is its kind and its words without figures; an unknown kind is its kind alone', () => {
    expect(findingKey({ kind: 'pinned-top' })).toBe('pinned-top|');
    expect(findingKey({ kind: 'pinned-top', message: '109.0 MiB is free in arena 0 (main): 109.0 MiB' })).toBe(findingKey({ kind: 'pinned-top', message: '2.5 MiB is free in arena 0 (main): 2.5 MiB' }));
    expect(findingKey({ kind: 'pinned-top', message: 'free in arena 0 (main)' })).not.toBe(findingKey({ kind: 'pinned-top', message: 'free in arena 2' }));
    expect(findingKey({ kind: 'from-the-future', data: { x: 1 } })).toBe('from-the-future|');
  });
});

describe('diffReports on analysed captures', () => {
  it('the same capture: nothing appeared or resolved, every delta 0', async () => {
    const r = analyse(await fixtureSnapshot('pinned-threads'));
    const d = diffReports(r, structuredClone(r));
    expect(d.findings).toEqual({ appeared: [], resolved: [] });
    const keys = r.arenas.map((a) => [a.kind === 'main' ? 'main' : `#${a.index}`, a.index, 0, 0, 0]); // no address read: keyed by number
    expect(d.arenas.map((a) => [a.key, a.index, a.rssDelta, a.inUseDelta, a.heldFreeDelta])).toEqual(keys);
    expect(d.rss).toEqual({ before: r.rss.total, after: r.rss.total, delta: 0 });
    expect(d.breakdown.every((b) => b.delta === 0)).toBe(true);
  });

  it('a finding whose figures moved is the same finding; one whose subject changed appears and resolves', async () => {
    const before = analyse(await fixtureSnapshot('pinned-threads'));
    const smaller = finding('held-free-gap', 'critical', 1, { gapBytes: 1, share: 0.5, trimmableBytes: 1, pid: 1 });
    const moved = { ...before, findings: before.findings.map((f) => (f.kind === 'held-free-gap' ? smaller : f)) };
    expect(diffReports(before, moved).findings).toEqual({ appeared: [], resolved: [] });
    const old = before.findings.find((f) => f.kind === 'pinned-top')!;
    const other = pinned([0], 5 * MIB);
    const after = { ...before, findings: [...before.findings.filter((f) => f !== old), other] };
    expect(diffReports(before, after).findings).toEqual({ appeared: [other], resolved: [old] });
  });

  it('a trim threshold that unpins every arena resolves pinned-top; the reverse makes it appear', async () => {
    const before = analyse(await fixtureSnapshot('pinned-threads'));
    const after = analyse(await fixtureSnapshot('pinned-threads', { env: { MALLOC_TRIM_THRESHOLD_: String(64 * MIB) } }));
    expect(diffReports(before, after).findings.resolved.map((f) => f.kind)).toEqual(['pinned-top']);
    expect(diffReports(after, before).findings.appeared.map((f) => f.kind)).toEqual(['pinned-top']);
  });
});

describe('diffReports: arenas matched by address', () => {
  const arena = (r: InspectReport, i: number, over: Partial<ArenaReport>): ArenaReport => ({ ...r.arenas[i]!, ...over });
  it('renumbered arenas keep their key; a new arena has no before, a gone one no after', () => {
    const before = v1();
    const [main, a1, a2] = before.arenas;
    const born = arena(before, 2, { index: 1, address: '0x7f5a40000030', rssBytes: 3 * MIB, inUseBytes: MIB, heldFreeRssBytes: 2 * MIB });
    // Arena 3 (address unknown) is gone; a new arena took number 1, the others moved up by one.
    const after: InspectReport = { ...before, arenas: [main!, born, { ...a1!, index: 2, rssBytes: a1!.rssBytes + MIB }, { ...a2!, index: 3 }] };
    const d = diffReports(before, after);
    expect(d.arenas.map((a) => [a.key, a.index, a.before?.index ?? null, a.after?.index ?? null])).toEqual([
      ['main', 0, 0, 0], [a1!.address, 2, 1, 2], [a2!.address, 3, 2, 3], ['#3', 3, 3, null], ['0x7f5a40000030', 1, null, 1],
    ]);
    expect(d.arenas[1]!.rssDelta).toBe(MIB);
    expect(d.arenas[2]!.rssDelta).toBe(0);
    const gone = before.arenas[3]!;
    expect(d.arenas[3]).toMatchObject({ rssDelta: -gone.rssBytes, inUseDelta: -gone.inUseBytes, heldFreeDelta: -gone.heldFreeRssBytes });
    expect(d.arenas[4]).toMatchObject({ rssDelta: 3 * MIB, inUseDelta: MIB, heldFreeDelta: 2 * MIB });
  });
});

describe('diffReports: inspect/1 documents (no finding data)', () => {
  it('still diff: same kinds match, a kind that is gone is resolved, categories are the union', () => {
    const before = v1();
    const after: InspectReport = {
      ...before,
      rss: { ...before.rss, total: before.rss.total - 10 * MIB },
      breakdown: [...before.breakdown.filter((b) => b.category !== 'shmem'), { category: 'kernel', rss: 8192, size: 8192, vmas: 2 }],
      findings: before.findings.filter((f) => f.kind !== 'mmap-chunks'),
    };
    const d = diffReports(before, after);
    expect(d.findings.appeared).toEqual([]);
    expect(d.findings.resolved.map((f) => f.kind)).toEqual(['mmap-chunks']);
    expect(d.rss.delta).toBe(-10 * MIB);
    expect(d.breakdown.map((b) => b.category)).toEqual([...before.breakdown.map((b) => b.category), 'kernel']);
    expect(d.breakdown.find((b) => b.category === 'kernel')).toEqual({ category: 'kernel', before: 0, after: 8192, delta: 8192 });
    expect(d.before).toEqual({ pid: 48213, takenAt: before.takenAt });
    expect(d.schema).toBe('heapgap.diff/1');
  });
});

// SRC BUG (src/analyse/findings/index.ts findingKey): an inspect/1 finding has no data, so its key is
// its kind alone and two findings of one kind (pinned-top of arena 0 and of arena 2) are one to diff:
// arena 2's pinned-top going away is not reported. v1 told them apart by their text.
describe('diffReports: inspect/1 documents with two findings of one kind', () => {
  it('the one that went away is resolved', () => {
    const before = v1();
    const [first, second] = before.findings.filter((f) => f.kind === 'pinned-top');
    const after: InspectReport = { ...before, findings: before.findings.filter((f) => f !== second) };
    expect(first).toBeDefined();
    expect(diffReports(before, after).findings.resolved).toEqual([second]);
  });
});

// SRC BUG (src/allocators/glibc/findings.ts pinned-top subject): the subject is the arenas' numbers,
// which shift when a new arena is created (diff itself matches arenas by address for that reason),
// so the same pinned arena reads as one pinned-top resolved and another appeared.
describe('diffReports: a pinned arena renumbered by a new arena', () => {
  it('is the same pinned-top finding', async () => {
    const r = analyse(await fixtureSnapshot('pinned-threads'));
    const pin = r.arenas.find((a) => a.kind === 'thread' && a.pinnedTop)!;
    const at = (a: ArenaReport, index: number) => ({ ...a, index, address: `0x${(BigInt(a.heaps[0]!.start) + 0x30n).toString(16)}` });
    const before: InspectReport = { ...r, arenas: [r.arenas[0]!, at(pin, 1)] };
    const fresh = { ...at(pin, 1), address: '0x7f0000000030', pinnedTop: false };
    const after: InspectReport = { ...r, arenas: [r.arenas[0]!, fresh, at(pin, 2)] };
    const findingsOf = (x: InspectReport) => [pinned(x.arenas.filter((a) => a.pinnedTop).map((a) => a.index), pin.binFreeBytes, (i) => x.arenas.find((a) => a.index === i)!.address)];
    const d = diffReports({ ...before, findings: findingsOf(before) }, { ...after, findings: findingsOf(after) });
    expect(d.arenas.find((a) => a.key === at(pin, 1).address)).toMatchObject({ rssDelta: 0 });
    expect(d.findings).toEqual({ appeared: [], resolved: [] });
  });
});
