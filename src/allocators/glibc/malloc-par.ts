/**
 * glibc's `mp_` (struct malloc_par) is a static in libc's .data with no symbol in a stripped libc.
 * It is found by what must hold of it: its fields are checked against each other, against the
 * process (sbrk_base is where [heap] starts) and against malloc_info (n_mmaps, mmapped_mem), for
 * each x86-64 layout glibc has had. Pure: bytes in, a candidate out.
 */

/** Field offsets of one struct malloc_par layout (x86-64). */
export interface MallocParLayout {
  name: string;
  trimThreshold: number;
  topPad: number;
  mmapThreshold: number;
  arenaTest: number;
  arenaMax: number;
  nMmaps: number;
  nMmapsMax: number;
  maxNMmaps: number;
  noDynThreshold: number;
  mmappedMem: number;
  maxMmappedMem: number;
  sbrkBase: number;
  /** tcache_bins (or tcache_small_bins), tcache_max_bytes, tcache_count; null before 2.26. */
  tcache: number | null;
  size: number;
}

const BASE = { trimThreshold: 0, topPad: 8, mmapThreshold: 16, arenaTest: 24, arenaMax: 32 };

/**
 * 2.26-2.34: the mmap counters follow arena_max. 2.35+: thp_pagesize, hp_pagesize and an int
 * hp_flags come first (the ints pack: n_mmaps at 60, seen here on 2.36). Newer trees add an enum
 * thp_mode before thp_pagesize. 2.23-2.25 is the first layout without the tcache fields.
 */
export const MALLOC_PAR_LAYOUTS: readonly MallocParLayout[] = [
  { name: '2.35+', ...BASE, nMmaps: 60, nMmapsMax: 64, maxNMmaps: 68, noDynThreshold: 72, mmappedMem: 80, maxMmappedMem: 88, sbrkBase: 96, tcache: 104, size: 128 },
  { name: '2.26-2.34', ...BASE, nMmaps: 40, nMmapsMax: 44, maxNMmaps: 48, noDynThreshold: 52, mmappedMem: 56, maxMmappedMem: 64, sbrkBase: 72, tcache: 80, size: 104 },
  { name: 'thp_mode', ...BASE, nMmaps: 68, nMmapsMax: 72, maxNMmaps: 76, noDynThreshold: 80, mmappedMem: 88, maxMmappedMem: 96, sbrkBase: 104, tcache: 112, size: 136 },
  { name: '2.23-2.25', ...BASE, nMmaps: 40, nMmapsMax: 44, maxNMmaps: 48, noDynThreshold: 52, mmappedMem: 56, maxMmappedMem: 64, sbrkBase: 72, tcache: null, size: 80 },
];

/** The values heapgap reports, read from the target. Bytes are numbers, the address a hex string. */
export interface MallocPar {
  address: string;
  layout: string;
  trimThreshold: number;
  topPad: number;
  mmapThreshold: number;
  arenaTest: number;
  arenaMax: number;
  nMmaps: number;
  nMmapsMax: number;
  maxNMmaps: number;
  mmapThresholdDynamic: boolean;
  mmappedBytes: number;
  maxMmappedBytes: number;
  sbrkBase: string;
  tcacheCount: number | null;
  tcacheMaxBytes: number | null;
  /** The checks this reading passed beyond the structural ones, e.g. "sbrk_base = [heap] start". */
  confirmedBy: string[];
}

export interface MallocParExpect {
  /** Start of the [heap] VMA, or null when the process has none. */
  heapStart: bigint | null;
  /** malloc_info's `<total type="mmap">`, read in the stop (it may have moved since). */
  mmap: { count: number; size: number } | null;
  /** HEAP_MAX_SIZE: mallopt and the tunable refuse an mmap threshold above half of it. */
  heapMax: number;
}

const DEFAULT_THRESHOLD = 128 * 1024;
const PAGE = 4096;
const U32 = 2 ** 32;

/**
 * Every offset in `buf` (libc's writable segment, mapped at `base`) where some layout's fields hold
 * together. More than one hit means the reading is ambiguous: the caller reports none.
 */
export function findMallocPar(buf: Buffer, base: bigint, expect: MallocParExpect): MallocPar[] {
  const hits: MallocPar[] = [];
  for (const layout of MALLOC_PAR_LAYOUTS) {
    for (const o of offsets(buf, layout, expect.heapStart)) {
      const par = check(buf, o, layout, expect);
      if (par) hits.push({ ...par, address: `0x${(base + BigInt(o)).toString(16)}` });
    }
  }
  return hits;
}

/**
 * The offsets (8-byte aligned) where `layout` may begin: with a [heap], only where its sbrk_base
 * holds the heap's start, found by a search for those 8 bytes (after detach, on the path the user
 * waits on: checking every offset of libc's data for each layout was 2-4 ms); without one, all.
 */
function* offsets(buf: Buffer, layout: MallocParLayout, heapStart: bigint | null): Generator<number> {
  if (heapStart === null || heapStart === 0n) {
    for (let o = 0; o + layout.size <= buf.length; o += 8) yield o;
    return;
  }
  const needle = Buffer.alloc(8);
  needle.writeBigUInt64LE(heapStart);
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) {
    const o = at - layout.sbrkBase;
    if (o >= 0 && o % 8 === 0 && o + layout.size <= buf.length) yield o;
  }
}

function check(buf: Buffer, o: number, l: MallocParLayout, expect: MallocParExpect): Omit<MallocPar, 'address'> | null {
  // The one field that ties the struct to this process (without [heap], brk was never used):
  // compared first, as two words, since nearly every offset fails it.
  const want = expect.heapStart ?? 0n;
  if (buf.readUInt32LE(o + l.sbrkBase) !== Number(want & 0xffffffffn) || buf.readUInt32LE(o + l.sbrkBase + 4) !== Number(want >> 32n)) return null;
  const u64 = (at: number): number => {
    const hi = buf.readUInt32LE(o + at + 4);
    return hi >= 0x200000 ? Infinity : hi * U32 + buf.readUInt32LE(o + at); // > 2^53: not a size
  };
  const i32 = (at: number): number => buf.readInt32LE(o + at);
  const sbrk = want;
  const mmapThreshold = u64(l.mmapThreshold);
  const trimThreshold = u64(l.trimThreshold);
  const noDyn = i32(l.noDynThreshold);
  const [nMmaps, nMmapsMax, maxNMmaps] = [i32(l.nMmaps), i32(l.nMmapsMax), i32(l.maxNMmaps)];
  const [mmapped, maxMmapped] = [u64(l.mmappedMem), u64(l.maxMmappedMem)];
  const [arenaTest, arenaMax, topPad] = [u64(l.arenaTest), u64(l.arenaMax), u64(l.topPad)];
  if (noDyn !== 0 && noDyn !== 1) return null;
  if (!(mmapThreshold > 0 && mmapThreshold <= expect.heapMax / 2 && trimThreshold !== Infinity && topPad !== Infinity)) return null;
  // While dynamic, glibc has only ever written the pair together (free() of an mmapped chunk).
  if (noDyn === 0 && !(trimThreshold === 2 * mmapThreshold || (mmapThreshold === DEFAULT_THRESHOLD && trimThreshold === DEFAULT_THRESHOLD))) return null;
  if (!(nMmaps >= 0 && nMmaps <= maxNMmaps && nMmapsMax >= 0)) return null;
  if (!(mmapped <= maxMmapped && maxMmapped !== Infinity && mmapped % PAGE === 0 && (nMmaps === 0) === (mmapped === 0))) return null;
  if (!(arenaTest > 0 && arenaTest < U32 && arenaMax < U32)) return null;
  let tcacheCount: number | null = null;
  let tcacheMaxBytes: number | null = null;
  if (l.tcache !== null) {
    const [bins, maxBytes, count] = [u64(l.tcache), u64(l.tcache + 8), u64(l.tcache + 16)];
    if (!(bins <= 4096 && maxBytes < U32 && count <= 65535)) return null;
    [tcacheCount, tcacheMaxBytes] = [count, maxBytes];
  }
  const confirmedBy: string[] = [];
  if (expect.heapStart !== null) confirmedBy.push('sbrk_base = start of [heap]');
  if (expect.mmap && expect.mmap.count === nMmaps && expect.mmap.size === mmapped) confirmedBy.push("n_mmaps and mmapped_mem = malloc_info's mmap totals");
  return {
    layout: l.name,
    trimThreshold,
    topPad,
    mmapThreshold,
    arenaTest,
    arenaMax,
    nMmaps,
    nMmapsMax,
    maxNMmaps,
    mmapThresholdDynamic: noDyn === 0,
    mmappedBytes: mmapped,
    maxMmappedBytes: maxMmapped,
    sbrkBase: `0x${sbrk.toString(16)}`,
    tcacheCount,
    tcacheMaxBytes,
    confirmedBy,
  };
}

/**
 * One answer from several candidates: the ones malloc_info confirms, else all; among those, the
 * layout this glibc version should have when the fields alone fit at two places (the layouts share
 * their tail at an 8-byte shift, so with the threshold fixed both can fit). Two different
 * addresses left: no answer.
 */
export function pickMallocPar(hits: MallocPar[], version: string | null): MallocPar | null {
  const confirmed = hits.filter((h) => h.confirmedBy.length > 1);
  let pool = confirmed.length > 0 ? confirmed : hits;
  if (new Set(pool.map((h) => h.address)).size > 1) {
    const expected = expectedLayout(version);
    pool = pool.filter((h) => h.layout === expected);
  }
  return new Set(pool.map((h) => h.address)).size === 1 ? pool[0]! : null;
}

function expectedLayout(version: string | null): string | null {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return null;
  const v = Number(m[1]) * 1000 + Number(m[2]);
  return v >= 2035 ? '2.35+' : v >= 2026 ? '2.26-2.34' : '2.23-2.25';
}
