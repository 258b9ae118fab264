// Snapshots (capture/2) built from the real captures in fixtures/<name>/, the way `report` sees them.
import { arenaClaims } from '../src/allocators/glibc/claims.js';
import type { GlibcLayout, GlibcSection } from '../src/allocators/glibc/section.js';
import type { ProcMemory } from '../src/collect/memory.js';
import { parseSmaps } from '../src/parse/smaps.js';
import type { Snapshot } from '../src/snapshot.js';
import type { Vma } from '../src/types.js';
import { fixture } from './fixtures.js';

export const HEAP_MAX = 64 * 1024 * 1024;

/** What the target said it allocated (fixtures/<name>/truth.json; see the fixture's README). */
export interface Truth {
  main: { liveBytes: number; freedBytes: number; pinned: boolean };
  threads: { heapBases: string[]; liveBytes: number; freedBytes: number; pinned: boolean }[];
  mmap: { count: number; bytes: number };
}
export const truthOf = (name: string): Truth => JSON.parse(fixture(name, 'truth.json')) as Truth;

/** The fixtures have no memory reads: a claim on part of a VMA (none here has Rss) would read 0 resident. */
const NO_MEMORY = { canRead: false, canCountPages: false, residentBytes: async () => null } as unknown as ProcMemory;

export interface FixtureOptions {
  env?: Record<string, string>;
  /** The arena ring as the stop reads it (memory join); absent: none was read (inferred join). */
  layout?: GlibcLayout | null;
  smaps?: string;
}

/** A capture of fixture `name`, its glibc claims made by the collector's own arenaClaims(). */
export async function fixtureSnapshot(name: string, o: FixtureOptions = {}): Promise<Snapshot> {
  const smaps = o.smaps ?? fixture(name, 'smaps');
  const vmas = parseSmaps(smaps);
  const layout = o.layout ?? null;
  const candidates = vmas.filter((v) => v.pathname === '' && v.start % BigInt(HEAP_MAX) === 0n).map((v) => v.start);
  const claims = await arenaClaims(vmas, layout?.arenas ?? [], candidates, HEAP_MAX, NO_MEMORY);
  const glibc: GlibcSection = { heapMax: HEAP_MAX, mallocInfo: fixture(name, 'malloc-info.xml'), layout, claims };
  return {
    schema: 'heapgap.capture/2', heapgapVersion: 'test', takenAt: '2026-11-23T00:00:00.000Z', pid: 4242, comm: name, cpus: 2,
    allocator: 'glibc', allocators: ['glibc'], allocatorEvidence: null, glibcVersion: '2.36', env: o.env ?? {},
    raw: { smaps, status: fixture(name, 'status') }, sections: { glibc }, stackPointers: [], pause: null, notes: [],
  };
}

/**
 * The arena ring a stop would read, from truth.json's heap bases: thread arena `nr` (1-based, in
 * truth order) owns the heaps listed there; each heap's read-write length comes from smaps.
 * Only meaningful where truth order = malloc_info order (one thread arena, or none).
 */
export function layoutFromTruth(name: string, vmas: Vma[] = parseSmaps(fixture(name, 'smaps'))): GlibcLayout {
  const truth = truthOf(name);
  const rw = (base: bigint) => vmas.find((v) => v.start === base && v.perms.startsWith('rw'));
  const heaps = (bases: string[]) => bases.map((b) => {
    const length = Number(rw(BigInt(b))!.end - BigInt(b));
    return { start: b, size: length, mprotectSize: length };
  });
  return {
    note: null,
    arenas: [
      // main_arena lives in libc's data; no fixture records where, so this address is a stand-in.
      { index: 0, address: '0x7f0000001000', systemMem: 0, top: '0x0', heaps: [] },
      ...truth.threads.map((t, i) => {
        const address = `0x${(BigInt(t.heapBases[0]!) + 0x30n).toString(16)}`; // malloc_state right after heap_info
        return { index: i + 1, address, systemMem: 0, top: '0x0', heaps: heaps(t.heapBases) };
      }),
    ],
  };
}

/** The derived-figures table of a fixture's README ("| nr | system current | top | free | inUse ..."). */
export function readmeFigures(name: string): { nr: number; system: number; top: number; free: number; inUse: number }[] {
  return fixture(name, 'README.md').split('\n')
    .map((l) => /^\| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ nr: Number(m[1]), system: Number(m[2]), top: Number(m[3]), free: Number(m[4]), inUse: Number(m[5]) }));
}

/**
 * smaps with the VMA starting at `start` (hex, no 0x) resident `rssKb` (Rss, Pss and Anonymous
 * alike) and, if given, ending at `end`: what madvise(DONTNEED) or a brk shrink does to smaps.
 */
export function withRss(smaps: string, start: string, rssKb: number, end?: string): string {
  const at = smaps.indexOf(`\n${start}-`) + 1;
  if (at === 0) throw new Error(`no VMA starts at ${start}`);
  const rest = smaps.slice(at + 1).search(/\n[0-9a-f]+-[0-9a-f]+ /);
  const next = rest === -1 ? smaps.length : at + rest + 2;
  let block = smaps.slice(at, next).replace(/^(Rss|Pss|Anonymous):\s+\d+ kB$/gm, (_, f: string) => `${`${f}:`.padEnd(16)}${String(rssKb).padStart(8)} kB`);
  if (end) block = block.replace(/^([0-9a-f]+)-[0-9a-f]+/, `$1-${end}`);
  return smaps.slice(0, at) + block + smaps.slice(next);
}
