import type { Vma } from '../../types.js';
import type { ResidentMemory } from '../../collect/top/resident-memory.js';
import type { StructLayout } from './layout.js';
import { readFreeLists } from './top-free-lists.js';
import type { FreeListRead } from './top-free-lists.js';

type GlibcLayout = StructLayout;

/** One arena read through /proc/PID/mem while the process ran. */
export interface ArenaRead {
  index: number;
  kind: 'main' | 'thread';
  address: bigint;
  heaps: number;
  systemBytes: number;
  topBytes: number;
  rssBytes: number;
  free: FreeListRead;
}

const MAX_ARENAS = 4096;
// Aligned addresses probed for a heap_info (one 32-byte read each): 64 TiB of anonymous memory at 64 MiB.
const MAX_CANDIDATES = 1 << 20;

/**
 * The arena ring without debug symbols and without a stop: thread arenas from the heap_info at the
 * start of every HEAP_MAX-aligned block, main_arena by scanning libc's writable segment for the one
 * malloc_state whose `next` is itself or a thread arena and whose top is in [heap] (or still the
 * initial top), then the ring from main in `next` order (ring position = malloc_info's nr). Each
 * arena's system_mem, top and free lists are read from its malloc_state; Rss of its heaps from pagemap.
 */
export async function readGlibcArenas(
  memory: ResidentMemory, maps: Vma[], libcRw: [bigint, bigint], layout: GlibcLayout, safeLinking: boolean, budget: { chunks: number },
): Promise<{ arenas: ArenaRead[]; note: string | null }> {
  const max = BigInt(layout.heapMax);
  const blocks = new Map<bigint, bigint[]>(); // arena (ar_ptr) -> its heap blocks
  for (const base of alignedStarts(maps, max)) {
    const info = await memory.read(base, 32);
    if (!info) continue;
    const size = info.readBigUInt64LE(16);
    if (size === 0n || size > max || info.readBigUInt64LE(24) > max) continue;
    const owner = info.readBigUInt64LE(0);
    blocks.set(owner, [...(blocks.get(owner) ?? []), base]);
  }
  // An arena's malloc_state sits right after the heap_info of its first heap.
  const threads = new Set([...blocks.entries()].filter(([owner, bases]) => bases.some((b) => b + BigInt(layout.heapInfoSize) === owner)).map(([o]) => o));
  const heap = maps.filter((v) => v.pathname === '[heap]').map((v) => [v.start, v.end] as [bigint, bigint]);
  const main = await findMain(memory, libcRw, layout, threads, heap);
  if (main === null) return { arenas: [], note: 'main_arena not found in libc\'s data' };
  const ring = await walkRing(memory, main, layout, threads);
  if (ring === null) return { arenas: [], note: 'the arena ring changed while it was read' };
  const arenas: ArenaRead[] = [];
  for (const [index, address] of ring.entries()) {
    const state = await memory.read(address, layout.systemMem + 16);
    if (!state) continue;
    const ranges = index === 0 ? heap : (blocks.get(address) ?? []).map((b) => [b, b + max] as [bigint, bigint]);
    const top = state.readBigUInt64LE(layout.top);
    const topHead = ranges.some(([s, e]) => top >= s && top < e) ? await memory.read(top + 8n, 8) : null;
    let rssBytes = 0;
    for (const [s, e] of ranges) rssBytes += (await memory.residentBytes(s, e)) ?? 0;
    const free = await readFreeLists(memory, { state, address, offsets: { fastbins: layout.top - 80, bins: layout.top + 16 }, ranges, safeLinking }, budget);
    arenas.push({
      index,
      kind: index === 0 ? 'main' : 'thread',
      address,
      heaps: ranges.length,
      systemBytes: Number(state.readBigUInt64LE(layout.systemMem)),
      topBytes: topHead ? Number(topHead.readBigUInt64LE(0) & ~7n) : 0,
      rssBytes,
      free,
    });
  }
  const lost = threads.size + 1 - ring.length;
  return { arenas, note: lost > 0 ? `${lost} arena(s) found in heap blocks were not on the ring` : null };
}

/**
 * HEAP_MAX-aligned addresses inside anonymous read-write VMAs: where a heap_info can start. Not only
 * VMA starts: a heap can merge with the anonymous mapping below it (more likely from glibc 2.37).
 */
function alignedStarts(maps: Vma[], max: bigint): bigint[] {
  const out: bigint[] = [];
  for (const v of maps) {
    if (!v.perms.startsWith('rw') || !(v.pathname === '' || v.pathname.startsWith('[anon:'))) continue;
    for (let a = ((v.start + max - 1n) / max) * max; a < v.end && out.length < MAX_CANDIDATES; a += max) out.push(a);
  }
  return out;
}

/** main_arena is not exported: the candidate that fits every check (reference §5). */
async function findMain(memory: ResidentMemory, rw: [bigint, bigint], L: GlibcLayout, threads: Set<bigint>, heap: [bigint, bigint][]): Promise<bigint | null> {
  const buf = await memory.readSparse(rw[0], rw[1]);
  const inHeap = (p: bigint) => heap.some(([s, e]) => p >= s && p < e);
  const bins = L.top + 16;
  let fallback: bigint | null = null;
  for (let o = 0; o + L.systemMem + 16 <= buf.length; o += 8) {
    const self = rw[0] + BigInt(o);
    const next = buf.readBigUInt64LE(o + L.next);
    if (next !== self && !threads.has(next)) continue;
    if (buf.readUInt32LE(o) > 2 || (buf.readUInt32LE(o + 4) & ~6) !== 0) continue; // mutex, flags
    const initialTop = self + BigInt(bins) - 16n;
    const top = buf.readBigUInt64LE(o + L.top);
    const unsorted = buf.readBigUInt64LE(o + bins);
    if (buf.readBigUInt64LE(o + L.systemMem) > buf.readBigUInt64LE(o + L.systemMem + 8)) continue;
    if (top === initialTop && unsorted === initialTop) fallback ??= self; // malloc not used yet
    else if (inHeap(top) && (unsorted === initialTop || inHeap(unsorted))) return self;
  }
  return fallback;
}

/** Arenas from main along `next`; every step must land on main or a known thread arena. */
async function walkRing(memory: ResidentMemory, main: bigint, L: GlibcLayout, threads: Set<bigint>): Promise<bigint[] | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const ring = [main];
    let at = main;
    for (;;) {
      const next = await memory.read(at + BigInt(L.next), 8);
      const n = next?.readBigUInt64LE(0) ?? null;
      if (n === main) return ring;
      if (n === null || !threads.has(n) || ring.includes(n) || ring.length >= MAX_ARENAS) break;
      ring.push(n);
      at = n;
    }
  }
  return null;
}
