import type { LibcImage } from '../../collect/elf.js';
import type { ProcMemory } from '../../collect/memory.js';
import { locateMainArena } from './main-arena.js';
import type { Vma } from '../../types.js';
import { PAGE } from './block-reader.js';
import { walkArena } from './heap-walk.js';
import type { ArenaGeometry, ArenaWalk } from './heap-walk.js';
import { findMallocPar, pickMallocPar } from './malloc-par.js';
import type { MallocPar } from './malloc-par.js';
import { pageMap } from './page-map.js';
import type { ArenaWalkCapture, GlibcCapture } from './types.js';

import type { StructLayout } from './layout.js';

/** malloc_state / heap_info offsets heapgap knows for this glibc (layout.ts layoutFor). */
export type StateOffsets = StructLayout;

export interface MeasureInput {
  memory: ProcMemory;
  vmas: Vma[];
  /** The arena ring read in the stop (empty when the process has no thread arena). */
  arenas: { index: number; address: string }[];
  mallocInfo: string;
  libcBase: bigint;
  image: LibcImage;
  offsets: StateOffsets | null;
  /** malloc_trim's pad, for the trim prediction. */
  pad: number;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/**
 * After detach, with the target running: glibc's parameters, then one walk of every arena (the
 * pinning chunks, the page map and the trim prediction all come from it). Never throws for what it
 * cannot read: it says so in paramsNote / an arena's problem.
 */
export async function measureGlibc(input: MeasureInput): Promise<GlibcCapture> {
  const { memory, vmas, offsets } = input;
  // Loaded here, after detach: the XML parser is a fifth of what inspect would compile before gdb.
  const { parseMallocInfo } = await import('./malloc-info.js');
  const info = safeParse(parseMallocInfo, input.mallocInfo);
  const heapVma = vmas.find((v) => v.pathname === '[heap]') ?? null;
  const { params, note } = await readParams(input, heapVma?.start ?? null, info?.totalMmap ?? null);
  const out: GlibcCapture = { params, paramsNote: note, arenas: [], walk: null };
  if (!offsets || !memory.canRead || !memory.canCountPages) return out;
  let main = input.arenas[0] ? BigInt(input.arenas[0].address) : null;
  const rw = input.image.segments.find((s) => s.flags & 2);
  if (main === null && rw && heapVma) {
    const data = libcData(memory, input.libcBase, rw);
    main = data ? locateMainArena(data.buf, data.start, offsets, heapVma) : null;
  }
  const list = [...(main !== null ? [{ index: 0, address: main }] : []), ...input.arenas.slice(1).map((a) => ({ index: a.index, address: BigInt(a.address) }))];
  const started = performance.now();
  let walkedBytes = 0;
  let readBytes = 0;
  for (const arena of list) {
    const state = Number(arena.address);
    const isMain = arena.index === 0;
    const firstChunk = params ? Number(BigInt(params.sbrkBase)) : heapVma ? Number(heapVma.start) : 0;
    const geometry = isMain ? () => mainGeometry(memory, state, offsets, firstChunk) : () => threadGeometry(memory, state, offsets);
    const walk = walkArena(memory, geometry, { main: isMain, pad: input.pad });
    walkedBytes += walk.walkedBytes;
    readBytes += walk.readBytes;
    out.arenas.push(toCapture(arena.index, hex(arena.address), walk));
  }
  out.walk = { ms: Math.round(performance.now() - started), walkedBytes, readBytes };
  return out;
}

function toCapture(index: number, address: string, w: ArenaWalk): ArenaWalkCapture {
  return {
    index, address, complete: w.complete, problem: w.problem, attempts: w.attempts,
    liveChunks: w.liveChunks, liveBytes: w.liveBytes, freeChunks: w.freeChunks, freeBytes: w.freeBytes, topBytes: w.topBytes,
    pinning: w.pinning.map((p) => ({ address: hex(p.address), size: p.size, freeBelowBytes: p.freeBelowBytes })),
    pinningChunks: w.pinningChunks, pinningBytes: w.pinningBytes, pinnedFreeBytes: w.pinnedFreeBytes, pinnedResidentBytes: w.pinnedResidentBytes,
    trimmableBytes: w.trimmableBytes, trimmableChunks: w.trimmableChunks,
    heaps: w.complete ? w.heaps.map(pageMap) : [],
  };
}

/** mp_ from libc's writable segment; read again (up to 3 times) when a racy read fails the checks. */
async function readParams(input: MeasureInput, heapStart: bigint | null, mmap: { count: number; size: number } | null): Promise<{ params: MallocPar | null; note: string | null }> {
  const rw = input.image.segments.find((s) => s.flags & 2);
  if (!rw) return { params: null, note: "libc has no writable segment: glibc's malloc parameters (mp_) were not read" };
  let hits: MallocPar[] = [];
  for (let i = 0; i < 3; i++) {
    const data = libcData(input.memory, input.libcBase, rw);
    if (!data) return { params: null, note: "libc's data is not readable through /proc/PID/mem: glibc's malloc parameters (mp_) were not read" };
    hits = findMallocPar(data.buf, data.start, { heapStart, mmap, heapMax: input.offsets?.heapMax ?? 64 << 20 });
    const pick = pickMallocPar(hits, input.image.version);
    if (pick) return { params: pick, note: null };
  }
  const why = hits.length === 0 ? 'no place in libc\'s data holds values that fit struct malloc_par' : `${new Set(hits.map((h) => h.address)).size} places fit struct malloc_par`;
  return { params: null, note: `glibc's malloc parameters (mp_) could not be located (${why}): thresholds are glibc's defaults or the environment's settings, not read from the process` };
}

/**
 * libc's initialised data (.data: mp_ and main_arena both have initialisers), resident pages only.
 * Not .bss, and no page that is not resident: reading one through /proc/PID/mem faults it in
 * and grew the target's RssAnon (seen here: 32 kB for libc's .bss).
 */
function libcData(memory: ProcMemory, base: bigint, seg: { vaddr: bigint; filesz: number }): { buf: Buffer; start: bigint } | null {
  const from = Number((base + seg.vaddr) & ~7n);
  const to = Number(base + seg.vaddr) + seg.filesz;
  const firstPage = Math.floor(from / PAGE);
  const present = memory.presentPages(firstPage, Math.ceil(to / PAGE) - firstPage);
  if (!present) return null;
  const buf = Buffer.alloc(to - from);
  for (let i = 0; i < present.length; i++) {
    if (!present[i]) continue;
    const a = Math.max(from, (firstPage + i) * PAGE);
    const b = Math.min(to, (firstPage + i + 1) * PAGE);
    if (memory.readInto(a, buf.subarray(a - from), b - a) !== b - a) return null;
  }
  return { buf, start: BigInt(from) };
}

function safeParse(parseMallocInfo: typeof import('./malloc-info.js').parseMallocInfo, xml: string) {
  try {
    return parseMallocInfo(xml, 'malloc_info');
  } catch {
    return null;
  }
}

function u64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * 2 ** 32 + buf.readUInt32LE(at);
}

/** The main arena: one span from sbrk_base to the end of its top chunk (a contiguous brk heap). */
function mainGeometry(memory: ProcMemory, state: number, o: StateOffsets, sbrkBase: number): ArenaGeometry | null {
  const s = read(memory, state, o.systemMem + 8);
  if (!s || sbrkBase === 0) return null;
  const top = u64(s, o.top);
  const head = read(memory, top, 16);
  if (!head) return null;
  const end = top + (u64(head, 8) - (u64(head, 8) % 8));
  const first = Math.ceil(sbrkBase / 16) * 16;
  if (top < first || end % PAGE !== 0) return null; // not contiguous: top lives in an mmapped segment
  return { top, systemMem: u64(s, o.systemMem), spans: [{ start: Math.floor(first / PAGE) * PAGE, end, first }] };
}

/** A thread arena: its heaps from the top chunk's heap back through heap_info.prev, oldest first. */
function threadGeometry(memory: ProcMemory, state: number, o: StateOffsets): ArenaGeometry | null {
  const s = read(memory, state, o.systemMem + 8);
  if (!s) return null;
  const top = u64(s, o.top);
  const spans: ArenaGeometry['spans'] = [];
  let h = Math.floor(top / o.heapMax) * o.heapMax;
  while (h !== 0 && spans.length < 100_000) {
    const info = read(memory, h, 32);
    if (!info || u64(info, 0) !== state) return null;
    const size = u64(info, 16);
    if (size <= 0 || size > o.heapMax || size % PAGE !== 0) return null;
    const firstHeap = h + o.heapInfoSize === state;
    const first = firstHeap ? Math.ceil((state + o.systemMem + 16) / 16) * 16 : h + o.heapInfoSize;
    spans.push({ start: h, end: h + size, first });
    if (firstHeap) break;
    h = u64(info, 8);
  }
  return { top, systemMem: u64(s, o.systemMem), spans: spans.reverse() };
}

function read(memory: ProcMemory, addr: number, length: number): Buffer | null {
  const buf = Buffer.allocUnsafe(length);
  return memory.readInto(addr, buf, length) === length ? buf : null;
}
