import { HeapgapError } from '../errors.js';
import { detectAllocator } from '../analyse/allocator.js';
import { allocatorEnv, tunable } from '../parse/environ.js';
import { SmapsParser, parseSmaps } from '../parse/smaps.js';
import type { Snapshot } from '../snapshot.js';
import type { Vma } from '../types.js';
import { locateLibc, readLibcImage } from './elf.js';
import { preflight, safeCall } from './gdb.js';
import type { SafeCallRequest } from './gdb.js';
import { ProcMemory } from './memory.js';
import { findMainArena, measureTrimmable } from './free-chunks.js';
import type { ArenaWhere } from './free-chunks.js';
import type { LibcImage } from './elf.js';
import { listTasks, onlineCpus, readOptional, readProc, readProcBuffer, readProcEach } from './procfs.js';
import { VERSION } from '../version.js';

export interface SnapshotOptions {
  mode: 'inspect' | 'trim';
  pad?: number;
  deadline: number;
  callBudgetMs?: number;
  signal?: AbortSignal;
  onProgress?: (msg: string) => void;
  /**
   * Keep smaps' text in snapshot.raw (a capture needs it; inspect does not, and for 60,000 VMAs it
   * is 43 MB). Without it, reading snapshot.raw.smaps is a programming error and throws.
   */
  keepRawSmaps?: boolean;
}

export interface TakenSnapshot {
  snapshot: Snapshot;
  /** trim mode: smaps read in the stop right before and after malloc_trim, and its return value. */
  trim: { smapsBefore: string; smapsAfter: string; returned: number } | null;
  /** snapshot.raw.smaps, parsed: hand it to analyse() so it is not parsed again. */
  vmas: Vma[];
  /** snapshot.raw.smaps as read (text, or the buffers it came in), or null when not kept. */
  rawSmaps: string | readonly Buffer[] | null;
}

const MIB = 1024 * 1024;

/** Everything about one live glibc process: pre-attach reading, the gdb session, post-detach measuring. */
export async function takeSnapshot(pid: number, opts: SnapshotOptions): Promise<TakenSnapshot> {
  const before = await preflight(pid);
  const { guess, aligned } = readMaps(pid);
  if (guess.allocator !== 'glibc' || !guess.libc) throw unsupported(pid, guess.allocator, guess.evidence);
  const libcFile = await locateLibc(pid, guess.libc);
  const [image, environ, cpus] = await Promise.all([
    readLibcImage(libcFile),
    // 0400 and owned by the target's uid: CAP_SYS_PTRACE alone does not open it.
    readProcBuffer(pid, 'environ').then((b) => b.toString('latin1'), () => null),
    onlineCpus(),
  ]);
  const env = environ === null ? {} : allocatorEnv(environ);
  const early: string[] = environ === null ? ['the target\'s environment is not readable (file permissions): MALLOC_* and GLIBC_TUNABLES settings are unknown'] : [];
  const heapMax = await heapMaxFor(image.version, env);
  const candidates = aligned.filter((start) => start % BigInt(heapMax) === 0n);
  opts.onProgress?.(`glibc ${image.version ?? '?'} at ${guess.libc.path}; attaching to ${pid}`);
  const call = await safeCall({
    pid,
    mode: opts.mode,
    pad: opts.pad ?? 0,
    libc: { path: libcFile, base: guess.libc.base },
    image,
    heapCandidates: candidates,
    layout: layoutFor(image.version, heapMax),
    callBudgetMs: opts.callBudgetMs ?? 2000,
    deadline: opts.deadline,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  } satisfies SafeCallRequest);
  opts.onProgress?.('detached; measuring');
  const { vmas, smaps } = call.smapsBefore !== null
    ? { vmas: parseSmaps(call.smapsBefore, `/proc/${pid}/smaps`), smaps: call.smapsBefore }
    : readSmaps(pid, opts.keepRawSmaps ?? false);
  const [statusText, sps] = await Promise.all([readProc(pid, 'status'), stackPointers(pid)]);
  const memory = await ProcMemory.open(pid);
  try {
    const claims = [...(await arenaClaims(vmas, call.layout.arenas, candidates, heapMax, memory)), ...(await mmapChunkClaims(vmas, candidates, heapMax, memory))];
    const trimmable = opts.mode === 'inspect' ? await trimmableOf(vmas, call.layout.arenas, call.mallocInfo, guess.libc.base, image, heapMax, memory, opts.pad ?? 0) : [];
    const notes = [...early, ...call.notes];
    if (!memory.canCountPages) notes.push('/proc/PID/pagemap is not readable: Rss of heaps that share a VMA with other memory is not split, and the trim prediction is estimated from malloc_info');
    if (call.layout.note) notes.push(`arena join inferred: ${call.layout.note}`);
    if (!memory.canRead) notes.push('mmapped chunks could not be located: /proc/PID/mem is not readable');
    const snapshot: Snapshot = {
      schema: 'heapgap.capture/1',
      heapgapVersion: VERSION,
      takenAt: new Date().toISOString(),
      pid,
      comm: before.status.name,
      cpus,
      allocator: 'glibc',
      allocatorEvidence: guess.libc.path,
      glibcVersion: image.version,
      env,
      heapMax,
      raw: lazyRaw(smaps, statusText, call.mallocInfo),
      layout: call.layout,
      claims,
      stackPointers: sps.map(hex),
      ...(trimmable.length > 0 ? { trimmable } : {}),
      pause: { stoppedMs: call.stoppedMs, attachMs: call.attachMs, callMs: call.callMs },
      notes,
    };
    const trim = opts.mode === 'trim' && call.smapsBefore && call.smapsAfter && call.trimReturned !== null
      ? { smapsBefore: call.smapsBefore, smapsAfter: call.smapsAfter, returned: call.trimReturned }
      : null;
    return { snapshot, trim, vmas, rawSmaps: smaps };
  } finally {
    await memory.close();
  }
}

/**
 * The allocator, and the anonymous VMAs aligned like a thread-arena heap (64 MiB or a multiple),
 * from /proc/PID/maps. Its own function so the parsed maps (20 MB for 60,000 VMAs) are garbage by
 * the time smaps is read.
 */
function readMaps(pid: number): { guess: ReturnType<typeof detectAllocator>; aligned: bigint[] } {
  const parser = new SmapsParser(`/proc/${pid}/maps`);
  readProcEach(pid, 'maps', (chunk) => parser.feed(chunk));
  const maps = parser.end();
  const min = BigInt(64 * MIB);
  return { guess: detectAllocator(maps), aligned: maps.filter((v) => v.pathname === '' && v.start % min === 0n).map((v) => v.start) };
}

/** smaps parsed as it is read; its bytes are kept only when asked. */
function readSmaps(pid: number, keep: boolean): { vmas: Vma[]; smaps: Buffer[] | null } {
  const parser = new SmapsParser(`/proc/${pid}/smaps`);
  const chunks: Buffer[] | null = keep ? [] : null;
  readProcEach(pid, 'smaps', (chunk) => {
    parser.feed(chunk);
    chunks?.push(Buffer.from(chunk));
  });
  return { vmas: parser.end(), smaps: chunks };
}

function unsupported(pid: number, allocator: string, evidence: string | null): HeapgapError {
  const hints: Record<string, string> = {
    jemalloc: "use jemalloc's own statistics (MALLOC_CONF=stats_print:true, or mallctl \"stats.*\"); heapgap reads glibc malloc only.",
    tcmalloc: "use tcmalloc's MallocExtension::GetStats() or its heap profiler; heapgap reads glibc malloc only.",
    mimalloc: 'use MIMALLOC_SHOW_STATS=1; heapgap reads glibc malloc only.',
    musl: "musl's malloc has no malloc_info; heapgap reads glibc malloc only.",
    static: 'a statically linked program carries its own allocator; heapgap needs glibc loaded as libc.so.6.',
    unknown: 'no glibc (libc.so.6) is mapped in the process.',
  };
  return new HeapgapError('UNSUPPORTED_ALLOCATOR', `process ${pid} does not use glibc malloc: ${allocator}${evidence ? ` (${evidence})` : ''}`, { hint: hints[allocator] ?? hints.unknown! });
}

/** HEAP_MAX_SIZE: 64 MiB on 64-bit, or 4 x the huge page size with glibc.malloc.hugetlb >= 2 (2.35+). */
export async function heapMaxFor(version: string | null, env: Record<string, string>): Promise<number> {
  const hugetlb = tunable(env, 'hugetlb');
  if (hugetlb !== null && hugetlb >= 2 && versionAtLeast(version, 2, 35)) {
    const meminfo = (await readOptional('/proc/meminfo')) ?? '';
    const kb = /^Hugepagesize:\s+(\d+) kB/m.exec(meminfo)?.[1];
    if (kb) return Math.max(64 * MIB, 4 * Number(kb) * 1024);
  }
  return 64 * MIB;
}

/** malloc_state / heap_info offsets on x86-64 (reference §5); null where heapgap does not know them. */
export function layoutFor(version: string | null, heapMax: number): SafeCallRequest['layout'] {
  if (!version) return null;
  const heapInfoSize = versionAtLeast(version, 2, 35) ? 48 : 32;
  if (versionAtLeast(version, 2, 27) && !versionAtLeast(version, 2, 43)) return { heapMax, heapInfoSize, top: 96, next: 2160, systemMem: 2184 };
  if (versionAtLeast(version, 2, 23)) return { heapMax, heapInfoSize, top: 88, next: 2152, systemMem: 2176 };
  return null;
}

export function versionAtLeast(version: string | null, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  return m !== null && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
}

/** Stack pointers of threads blocked in a syscall: the VMAs holding them are stacks. */
export async function stackPointers(pid: number): Promise<bigint[]> {
  const sps: bigint[] = [];
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const parts = (await readProc(pid, `task/${tid}/syscall`).catch(() => '')).trim().split(' ');
    if (parts.length >= 9 && /^0x[0-9a-f]+$/.test(parts[7]!)) sps.push(BigInt(parts[7]!));
  }
  return sps;
}

/** Index of the first VMA (sorted, as smaps lists them) that ends after `addr`. */
export function firstEndingAfter(vmas: Vma[], addr: bigint): number {
  let lo = 0;
  let hi = vmas.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (vmas[mid]!.end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function arenaClaims(vmas: Vma[], arenas: { index: number; heaps: { start: string; size: number; mprotectSize: number }[] }[], candidates: bigint[], heapMax: number, memory: ProcMemory): Promise<Snapshot['claims']> {
  const claims: Snapshot['claims'] = [];
  const ranges: { start: bigint; end: bigint; arena: number | null }[] = [];
  if (arenas.length > 0) {
    for (const arena of arenas) for (const h of arena.heaps) ranges.push({ start: BigInt(h.start), end: BigInt(h.start) + BigInt(heapMax), arena: arena.index });
  } else {
    for (const start of candidates) ranges.push({ start, end: start + BigInt(heapMax), arena: null });
  }
  for (const r of ranges) {
    for (let i = firstEndingAfter(vmas, r.start); i < vmas.length && vmas[i]!.start < r.end; i++) {
      const vma = vmas[i]!;
      const start = vma.start > r.start ? vma.start : r.start;
      const end = vma.end < r.end ? vma.end : r.end;
      const exact = start === vma.start && end === vma.end;
      const rss = exact ? vma.rss : ((await memory.residentBytes(start, end)) ?? 0);
      claims.push({ start: hex(start), end: hex(end), category: 'arena', rss, arena: r.arena });
    }
  }
  return claims;
}

/**
 * Mmapped chunks: anonymous read-write VMAs outside the arenas whose first bytes are a chunk header
 * with IS_MMAPPED set. Several chunks (and other memory) can share one VMA, so the walk goes chunk
 * by chunk and stops at the first thing that is not one.
 */
export async function mmapChunkClaims(vmas: Vma[], candidates: bigint[], heapMax: number, memory: ProcMemory): Promise<Snapshot['claims']> {
  const claims: Snapshot['claims'] = [];
  if (!memory.canRead) return claims;
  const max = BigInt(heapMax);
  const blocks = new Set(candidates);
  const inArena = (v: Vma) => blocks.has(v.start - (v.start % max));
  for (const vma of vmas) {
    if (vma.pathname !== '' || !vma.perms.startsWith('rw') || inArena(vma)) continue;
    let at = vma.start;
    while (at + 16n <= vma.end) {
      const header = await memory.u64pair(at);
      if (!header) break;
      const [prevSize, sizeField] = header;
      const size = sizeField & ~7n;
      if ((sizeField & 7n) !== 2n || prevSize !== 0n || size === 0n || size % 4096n !== 0n || at + size > vma.end) break;
      const exact = at === vma.start && at + size === vma.end;
      const rss = exact ? vma.rss : ((await memory.residentBytes(at, at + size)) ?? 0);
      claims.push({ start: hex(at), end: hex(at + size), category: 'mmap-chunk', rss, arena: null });
      at += size;
    }
  }
  return claims;
}

/**
 * The raw inputs, with smaps decoded to text only when someone reads snapshot.raw.smaps (heapgap
 * itself does not: `capture` writes the buffers through captureText). null: not kept (keepRawSmaps).
 */
function lazyRaw(smaps: string | readonly Buffer[] | null, status: string, mallocInfo: string): Snapshot['raw'] {
  const raw = { status, mallocInfo } as Snapshot['raw'];
  let text: string | null = typeof smaps === 'string' ? smaps : null;
  let chunks = typeof smaps === 'string' ? null : smaps;
  const decode = (): string => {
    if (chunks === null) throw new Error('snapshot.raw.smaps was not kept: takeSnapshot needs keepRawSmaps for a capture');
    const decoded = Buffer.concat(chunks).toString('latin1');
    chunks = null; // the text replaces the buffers
    return decoded;
  };
  Object.defineProperty(raw, 'smaps', { enumerable: true, get: () => (text ??= decode()) });
  return raw;
}

/**
 * The capture file's text (JSON and a newline) in pieces, the same bytes as
 * JSON.stringify(snapshot): smaps, nine tenths of it on a large process, is escaped buffer by
 * buffer, so the 45 MB document of a 60,000-VMA process never exists as one string.
 */
export function* captureText(taken: TakenSnapshot): Generator<string> {
  const smaps = taken.rawSmaps;
  if (smaps === null) throw new Error('captureText needs takeSnapshot with keepRawSmaps');
  const { status, mallocInfo } = taken.snapshot.raw;
  const mark = '\u0000heapgap:smaps\u0000';
  // raw's keys in the order lazyRaw gives them, so the text matches JSON.stringify(snapshot)
  const shell = JSON.stringify({ ...taken.snapshot, raw: { status, mallocInfo, smaps: mark } });
  const at = shell.indexOf(JSON.stringify(mark));
  yield shell.slice(0, at + 1);
  const pieces = typeof smaps === 'string' ? slices(smaps, 1 << 20) : smaps.map((b) => b.toString('latin1'));
  for (const piece of pieces) yield JSON.stringify(piece).slice(1, -1);
  yield `${shell.slice(at + JSON.stringify(mark).length - 1)}\n`;
}

function* slices(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

/** Arenas located for the free-list walk: thread arenas from the ring, main from the ring or libc. */
async function trimmableOf(vmas: Vma[], arenas: { index: number; address: string; heaps: { start: string }[] }[], mallocInfo: string, base: bigint, image: LibcImage, heapMax: number, memory: ProcMemory, pad: number) {
  const layout = layoutFor(image.version, heapMax);
  if (!layout || !memory.canRead || !memory.canCountPages) return [];
  const heap = vmas.filter((v) => v.pathname === '[heap]').map((v) => [v.start, v.end] as [bigint, bigint]);
  let main = arenas[0] ? BigInt(arenas[0].address) : null;
  const rw = image.segments.find((s) => s.flags & 2);
  if (main === null && rw) {
    const systemMem = Number(/<heap nr="0">[\s\S]*?<system type="current" size="(\d+)"/.exec(mallocInfo)?.[1] ?? -1);
    main = await findMainArena(memory, [base + rw.vaddr, base + rw.vaddr + BigInt(rw.memsz)], layout, systemMem);
  }
  const where: ArenaWhere[] = [];
  if (main !== null) where.push({ index: 0, address: main, ranges: heap });
  for (const a of arenas.slice(1)) where.push({ index: a.index, address: BigInt(a.address), ranges: a.heaps.map((h) => [BigInt(h.start), BigInt(h.start) + BigInt(heapMax)] as [bigint, bigint]) });
  return measureTrimmable(memory, where, { top: layout.top, bins: layout.top + 16 }, pad);
}

const hex = (n: bigint) => `0x${n.toString(16)}`;
