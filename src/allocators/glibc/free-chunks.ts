import type { ProcMemory } from '../../collect/memory.js';
import { CHUNK_KEEP as KEEP, MINSIZE as MIN, PAGE as PG } from './layout.js';

/** What malloc_trim would madvise in one arena, measured: resident pages of free-chunk interiors. */
export interface TrimmableMeasure {
  index: number;
  /** Resident bytes malloc_trim(pad) would release from this arena. */
  residentBytes: number;
  /** Free chunks large enough to hold a whole page. */
  chunks: number;
  /** False when a list could not be followed to its end (the target changed it meanwhile). */
  complete: boolean;
}

export interface ArenaWhere {
  index: number;
  /** malloc_state address. */
  address: bigint;
  /** [start, end) of the memory the arena's chunks may live in. */
  ranges: [bigint, bigint][];
}

const PAGE = BigInt(PG);
const CHUNK_KEEP = BigInt(KEEP);
const MINSIZE = BigInt(MIN);
const MAX_CHUNKS = 200_000;
// Bins mtrim visits on x86-64: the unsorted bin (1) and those from bin_index(pagesize) = 99 up.
const BINS = [1, ...Array.from({ length: 29 }, (_, i) => 99 + i)];

/**
 * Follows the unsorted and large bins of each arena through /proc/PID/mem while the target runs
 * (read-only; every pointer is checked against the arena's own heaps, so a list the target is
 * changing is cut short, not misread), and counts with pagemap the resident pages mtrim would
 * madvise: each free chunk's page-aligned interior, and for the main arena the top above `pad`.
 */
export async function measureTrimmable(
  memory: ProcMemory,
  arenas: ArenaWhere[],
  offsets: { top: number; bins: number },
  pad: number,
): Promise<TrimmableMeasure[]> {
  const out: TrimmableMeasure[] = [];
  let budget = MAX_CHUNKS;
  for (const arena of arenas) {
    let resident = 0;
    let chunks = 0;
    let complete = true;
    const inside = (p: bigint, size: bigint) => arena.ranges.some(([s, e]) => p >= s && p + size <= e);
    for (const bin of BINS) {
      const header = arena.address + BigInt(offsets.bins + (bin - 1) * 16) - 16n;
      const first = await memory.u64pair(header + 16n);
      if (!first) {
        complete = false;
        continue;
      }
      let p = first[0];
      const seen = new Set<bigint>();
      while (p !== header) {
        if (budget-- <= 0 || seen.has(p)) {
          complete = false;
          break;
        }
        seen.add(p);
        const head = await memory.u64pair(p);
        const link = await memory.u64pair(p + 16n);
        const size = head ? head[1] & ~7n : 0n;
        if (!head || !link || size < MINSIZE || !inside(p, size)) {
          complete = false;
          break;
        }
        const aligned = (p + CHUNK_KEEP + PAGE - 1n) & ~(PAGE - 1n);
        const length = (size - (aligned - p)) & ~(PAGE - 1n);
        if (size > PAGE - 1n + CHUNK_KEEP && length > 0n) {
          chunks++;
          resident += (await memory.residentBytes(aligned, aligned + length)) ?? 0;
        }
        p = link[0];
      }
    }
    if (arena.index === 0) resident += await mainTop(memory, arena, offsets.top, BigInt(pad));
    out.push({ index: arena.index, residentBytes: resident, chunks, complete });
  }
  return out;
}

/** systrim: the main arena's top minus pad, rounded down to pages, comes off the end of brk. */
async function mainTop(memory: ProcMemory, arena: ArenaWhere, topOffset: number, pad: bigint): Promise<number> {
  const top = await memory.u64pair(arena.address + BigInt(topOffset));
  if (!top) return 0;
  const head = await memory.u64pair(top[0]);
  if (!head) return 0;
  const size = head[1] & ~7n;
  const area = size - MINSIZE - 1n;
  if (area <= pad) return 0;
  const extra = (area - pad) & ~(PAGE - 1n);
  const end = top[0] + size;
  return extra > 0n ? ((await memory.residentBytes(end - extra, end)) ?? 0) : 0;
}

/**
 * main_arena is not exported. In a process with thread arenas the arena ring gives its address; in
 * a single-arena process it is the malloc_state in libc's writable segment whose `next` points to
 * itself and whose system_mem is malloc_info's heap 0.
 */
export async function findMainArena(memory: ProcMemory, rw: [bigint, bigint], offsets: { next: number; systemMem: number }, systemMem: number): Promise<bigint | null> {
  const span = Number(rw[1] - rw[0]);
  const buf = await memory.read(rw[0], span);
  if (!buf) return null;
  for (let o = 0; o + offsets.systemMem + 8 <= buf.length; o += 8) {
    if (buf.readBigUInt64LE(o + offsets.next) === rw[0] + BigInt(o) && buf.readBigUInt64LE(o + offsets.systemMem) === BigInt(systemMem)) return rw[0] + BigInt(o);
  }
  return null;
}
