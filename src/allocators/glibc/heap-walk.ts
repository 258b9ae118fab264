import { BlockReader, PAGE } from './block-reader.js';
import type { MemorySource } from './block-reader.js';
import { PinningTracker } from './pinning.js';
import type { PinningChunk } from './pinning.js';

/** One heap of an arena: the pages [start, end) it spans and where its first chunk starts. */
export interface WalkSpan {
  start: number;
  end: number;
  first: number;
}

/** What the walk must agree with, read from the arena's own fields before (and again after) it. */
export interface ArenaGeometry {
  top: number;
  systemMem: number;
  /** Oldest heap first; the top chunk lies in the last one. */
  spans: WalkSpan[];
}

/** One heap, walked: which pages hold live chunks, and which are resident (from pagemap). */
export interface WalkedHeap {
  span: WalkSpan;
  /** One byte per page: 1 when some live chunk (or the arena's own header) touches the page. */
  live: Uint8Array;
  present: Uint8Array;
  topStart: number | null;
}

export interface ArenaWalk {
  complete: boolean;
  /** Why the walk is incomplete, or null. */
  problem: string | null;
  attempts: number;
  heaps: WalkedHeap[];
  liveChunks: number;
  liveBytes: number;
  freeChunks: number;
  freeBytes: number;
  topBytes: number;
  pinning: PinningChunk[];
  /** Live chunks (and their bytes) between the highest large free chunk and the top. */
  pinningChunks: number;
  pinningBytes: number;
  /** Free bytes below the pinning chunks, and how much of them is resident. */
  pinnedFreeBytes: number;
  pinnedResidentBytes: number;
  /** Resident bytes malloc_trim(pad) would madvise or sbrk away, and the free chunks it would touch. */
  trimmableBytes: number;
  trimmableChunks: number;
  /** Bytes of heap address space covered and bytes actually read through /proc/PID/mem. */
  walkedBytes: number;
  readBytes: number;
}

export interface WalkOptions {
  main: boolean;
  /** malloc_trim's pad: the main arena's top keeps this much. */
  pad: number;
  attempts?: number;
}

const HDR = 16;
const MINSIZE = 32;
const CHUNK_KEEP = 48; // mtrim never madvises a free chunk's first sizeof(struct malloc_chunk) bytes
const U32 = 2 ** 32;

/**
 * Walks an arena chunk by chunk through /proc/PID/mem while the target runs: every size is checked
 * against the heap's bounds, the PREV_INUSE/foot pairing and the arena's own top, and the whole walk
 * is repeated when the arena's top or system_mem moved meanwhile (or a check failed), up to
 * `attempts` times. Only resident pages are read (pagemap first): reading a released page would map
 * the zero page into the target.
 */
export function walkArena(src: MemorySource, geometry: () => ArenaGeometry | null, opts: WalkOptions): ArenaWalk {
  const attempts = opts.attempts ?? 3;
  let last: ArenaWalk | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const before = geometry();
    if (!before) return failed('the arena\'s heaps could not be read', attempt);
    const walk = walkOnce(src, before, opts);
    walk.attempts = attempt;
    const after = geometry();
    if (walk.complete && (!after || after.top !== before.top || after.systemMem !== before.systemMem)) {
      walk.complete = false;
      walk.problem = 'the arena changed during the walk';
    }
    if (walk.complete) return walk;
    last = walk;
  }
  return last!;
}

function failed(problem: string, attempts: number): ArenaWalk {
  return { complete: false, problem, attempts, heaps: [], liveChunks: 0, liveBytes: 0, freeChunks: 0, freeBytes: 0, topBytes: 0, pinning: [], pinningChunks: 0, pinningBytes: 0, pinnedFreeBytes: 0, pinnedResidentBytes: 0, trimmableBytes: 0, trimmableChunks: 0, walkedBytes: 0, readBytes: 0 };
}

function walkOnce(src: MemorySource, g: ArenaGeometry, opts: WalkOptions): ArenaWalk {
  const out = failed('', 0);
  const pins = new PinningTracker();
  for (let s = 0; s < g.spans.length; s++) {
    const span = g.spans[s]!;
    const pages = (span.end - span.start) / PAGE;
    const present = src.presentPages(span.start / PAGE, pages);
    if (!present) return { ...out, problem: '/proc/PID/pagemap is not readable' };
    const heap: WalkedHeap = { span, live: new Uint8Array(pages), present, topStart: null };
    out.heaps.push(heap);
    heap.live.fill(1, 0, Math.ceil((span.first - span.start) / PAGE)); // heap_info and malloc_state
    const reader = new BlockReader(src, present, span.start, span.end);
    const problem = walkSpan(reader, heap, s === g.spans.length - 1 ? g.top : -1, opts, pins, out);
    out.readBytes += reader.readBytes;
    if (problem) return { ...out, problem };
    out.walkedBytes += span.end - span.start;
  }
  const pinned = pins.result();
  out.pinning = pinned.chunks;
  out.pinningChunks = pinned.count;
  out.pinningBytes = pinned.bytes;
  out.pinnedFreeBytes = pinned.freeBelow;
  out.pinnedResidentBytes = pinned.count > 0 ? residentFreeBelow(out.heaps, pinned.stretchStart) : 0;
  out.complete = true;
  out.problem = null;
  return out;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * One heap, chunk by chunk, from its first chunk to the top (`top` >= 0) or to the fencepost
 * closing an older heap. The hot loop of the walk: plain locals, figures added to `out` once.
 * Returns what was wrong, or null.
 */
function walkSpan(reader: BlockReader, heap: WalkedHeap, top: number, opts: WalkOptions, pins: PinningTracker, out: ArenaWalk): string | null {
  const { start, end, first } = heap.span;
  const { live, present } = heap;
  const words = reader.words;
  const nonMain = opts.main ? 0 : 4;
  let liveChunks = 0, liveBytes = 0, freeChunks = 0, freeBytes = 0, trimChunks = 0, trimBytes = 0;
  let problem: string | null = null;
  let p = first;
  let o = reader.at(p);
  if (o < 0) return `unreadable chunk header at ${hex(p)}`;
  let lo = words[(o + 8) >> 2]!;
  let hi = words[(o + 12) >> 2]!;
  for (;;) {
    const flags = lo & 7;
    const size = hi * U32 + (lo - flags);
    if (p === top) {
      if (p + size > end || size < MINSIZE) problem = `top chunk at ${hex(p)} has size ${size}`;
      heap.topStart = p;
      out.topBytes = size;
      if (opts.main) trimBytes += topTrim(present, heap.span, p, size, opts.pad);
      break;
    }
    if (size === 0 && top < 0) break; // the fencepost closing an older heap
    // Sizes are 16-byte multiples: bit 3 of the size word is never set.
    if ((lo & 8) !== 0 || size < HDR || p + size > end || (top >= 0 && p > top)) {
      problem = `chunk at ${hex(p)} has size ${size} (heap ${hex(start)}-${hex(end)})`;
      break;
    }
    const next = p + size;
    o = reader.at(next);
    if (o < 0) {
      problem = `unreadable chunk header at ${hex(next)}`;
      break;
    }
    const nlo = words[(o + 8) >> 2]!;
    const nhi = words[(o + 12) >> 2]!;
    if (size >= MINSIZE) {
      if (nlo & 1) {
        // In use (or cached in tcache/fastbins, which glibc counts as in use too).
        if ((flags & 6) !== nonMain) {
          problem = `chunk at ${hex(p)} has flags ${flags}`;
          break;
        }
        liveChunks++;
        liveBytes += size;
        const a = Math.floor((p - start) / PAGE);
        const b = Math.floor((next - 1 - start) / PAGE);
        if (b - a < 4) for (let i = a; i <= b; i++) live[i] = 1;
        else live.fill(1, a, b + 1);
        pins.live(p, size);
      } else {
        const foot = words[(o + 4) >> 2]! * U32 + words[o >> 2]!;
        if (foot !== size) {
          problem = `free chunk at ${hex(p)}: size ${size}, foot ${foot}`;
          break;
        }
        freeChunks++;
        freeBytes += size;
        pins.free(p, size);
        if (size > PAGE - 1 + CHUNK_KEEP) {
          const madvised = trimmable(present, heap.span, p, size);
          if (madvised >= 0) {
            trimChunks++;
            trimBytes += madvised;
          }
        }
      }
    }
    p = next;
    lo = nlo;
    hi = nhi;
  }
  out.liveChunks += liveChunks;
  out.liveBytes += liveBytes;
  out.freeChunks += freeChunks;
  out.freeBytes += freeBytes;
  out.trimmableChunks += trimChunks;
  out.trimmableBytes += trimBytes;
  return problem;
}

/** mtrim: a free chunk's page-aligned interior past its first 48 bytes; resident bytes, or -1 if none. */
function trimmable(present: Uint8Array, span: WalkSpan, p: number, size: number): number {
  if (size <= PAGE - 1 + CHUNK_KEEP) return -1;
  const from = Math.ceil((p + CHUNK_KEEP) / PAGE) * PAGE;
  const length = Math.floor((size - (from - p)) / PAGE) * PAGE;
  return length > 0 ? countPresent(present, (from - span.start) / PAGE, length / PAGE) * PAGE : -1;
}

/** systrim: the main arena's top minus pad (and MINSIZE + 1), rounded down to pages, off its end. */
function topTrim(present: Uint8Array, span: WalkSpan, top: number, size: number, pad: number): number {
  const extra = Math.floor((size - pad - MINSIZE - 1) / PAGE) * PAGE;
  const end = top + size;
  if (extra <= 0 || end % PAGE !== 0) return 0;
  return countPresent(present, (end - extra - span.start) / PAGE, extra / PAGE) * PAGE;
}

function countPresent(present: Uint8Array, from: number, pages: number): number {
  let n = 0;
  for (let i = from; i < from + pages; i++) n += present[i]!;
  return n;
}

/** Resident pages below `limit` that hold no live chunk: the pinned free memory still in Rss. */
function residentFreeBelow(heaps: WalkedHeap[], limit: number): number {
  let n = 0;
  for (const h of heaps) {
    const pages = Math.min(h.live.length, Math.floor((limit - h.span.start) / PAGE));
    for (let i = 0; i < pages; i++) if (h.live[i] === 0) n += h.present[i]!;
  }
  return n * PAGE;
}
