// A capture built from a fixture directory (no memory reads), as an old or unprivileged capture.
import { parseSmaps } from '../../src/parse/smaps.js';
import type { Snapshot } from '../../src/snapshot.js';
import { fixture } from '../fixtures.js';

const HEAP_MAX = 64 * 1024 * 1024;

export function fixtureSnapshot(name: string, extra: Partial<Snapshot> = {}): Snapshot {
  const smaps = fixture(name, 'smaps');
  const vmas = parseSmaps(smaps);
  const claims = vmas
    .filter((v) => v.pathname === '' && v.start % BigInt(HEAP_MAX) === 0n)
    .flatMap((head) => vmas.filter((v) => v.start >= head.start && v.end <= head.start + BigInt(HEAP_MAX)))
    .map((v) => ({ start: `0x${v.start.toString(16)}`, end: `0x${v.end.toString(16)}`, category: 'arena' as const, rss: v.rss, arena: null }));
  return {
    schema: 'heapgap.capture/1', heapgapVersion: 'test', takenAt: '2026-11-23T00:00:00Z', pid: 1, comm: name, cpus: 2,
    allocator: 'glibc', allocatorEvidence: null, glibcVersion: '2.36', env: {}, heapMax: HEAP_MAX,
    raw: { smaps, status: fixture(name, 'status'), mallocInfo: fixture(name, 'malloc-info.xml') },
    layout: null, claims, stackPointers: [], pause: null, notes: [], ...extra,
  };
}
