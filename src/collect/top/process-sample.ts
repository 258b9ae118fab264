import { detectAllocator } from '../../allocators/detect.js';
import { layoutFor, versionAtLeast } from '../../allocators/glibc/layout.js';
import { heapMaxFor } from '../../allocators/glibc/prepare.js';
import { readGlibcArenas } from '../../allocators/glibc/top-arenas.js';
import { HeapgapError } from '../../errors.js';
import { allocatorEnv } from '../../parse/environ.js';
import { SmapsParser, parseSmaps } from '../../parse/smaps.js';
import { parseStatus } from '../../parse/status.js';
import type { Allocator, Vma } from '../../types.js';
import { locateLibc, readLibcImage } from '../elf.js';
import type { LibcImage } from '../elf.js';
import { ProcMemory } from '../memory.js';
import { readProc, readProcBuffer, readProcEach } from '../procfs.js';
import { ResidentMemory } from './resident-memory.js';
import type { ArenaRead } from '../../allocators/glibc/top-arenas.js';

/** What top read about one process, before analysis. */
export interface ProcessSample {
  pid: number;
  comm: string;
  threads: number;
  rssBytes: number;
  allocator: Allocator;
  glibcVersion: string | null;
  env: Record<string, string>;
  /** null when the arenas could not be read (not glibc, memory unreadable, layout unknown). */
  arenas: ArenaRead[] | null;
  note: string | null;
}

export const MEMORY_UNREADABLE = '/proc/PID/mem or pagemap not readable';

export type SampleOutcome = { sample: ProcessSample } | { skipped: 'unreadable' | 'exited' | 'kernel' };

/** Shared across the processes of one run: each libc file is parsed once. */
export interface SampleContext {
  libcs: Map<string, Promise<LibcImage | null>>;
  /** Upper bound of free-list chunks read per process. */
  chunkBudget: number;
}

/**
 * One process, read without stopping it: status, smaps_rollup, maps, environ, and for glibc the
 * arenas through /proc/PID/mem and pagemap. A process that exits or refuses a read is skipped.
 */
export async function sampleProcess(pid: number, ctx: SampleContext): Promise<SampleOutcome> {
  try {
    const status = parseStatus(await readProc(pid, 'status'), `/proc/${pid}/status`);
    if (status.vmRss === null) return { skipped: 'kernel' };
    const rollup = parseSmaps(await readProc(pid, 'smaps_rollup'), `/proc/${pid}/smaps_rollup`);
    const maps = readMaps(pid);
    if (maps.length === 0) return { skipped: 'kernel' };
    const guess = detectAllocator(maps);
    const sample: ProcessSample = {
      pid, comm: status.name, threads: status.threads, rssBytes: rollup[0]?.rss ?? status.vmRss,
      allocator: guess.allocator, glibcVersion: null, env: {}, arenas: null, note: null,
    };
    if (guess.allocator !== 'glibc' || !guess.libc) return { sample: { ...sample, note: `${guess.allocator} allocator: no arena figures without a stop` } };
    const libc = guess.libc;
    const key = `${libc.dev}:${libc.inode}`;
    if (!ctx.libcs.has(key)) ctx.libcs.set(key, locateLibc(pid, libc).then(readLibcImage).catch(() => null));
    const image = await ctx.libcs.get(key)!;
    const environ = await readProcBuffer(pid, 'environ').then((b) => b.toString('latin1'), () => null);
    sample.env = environ === null ? {} : allocatorEnv(environ);
    sample.glibcVersion = image?.version ?? null;
    const heapMax = await heapMaxFor(sample.glibcVersion, sample.env);
    const layout = layoutFor(sample.glibcVersion, heapMax);
    const rw = image?.segments.find((s) => (s.flags & 2) !== 0);
    if (!image || !layout || !rw) return { sample: { ...sample, note: image ? `glibc ${image.version ?? '?'}: malloc_state layout not known` : 'libc not readable' } };
    const memory = await ProcMemory.open(pid);
    try {
      if (!memory.canRead || !memory.canCountPages) return { sample: { ...sample, note: MEMORY_UNREADABLE } };
      const start = libc.base + rw.vaddr;
      const read = await readGlibcArenas(new ResidentMemory(memory), maps, [start, start + BigInt(rw.memsz)], layout, versionAtLeast(sample.glibcVersion, 2, 32), { chunks: ctx.chunkBudget });
      return { sample: { ...sample, arenas: read.arenas.length > 0 ? read.arenas : null, note: read.note } };
    } finally {
      await memory.close();
    }
  } catch (error) {
    if (error instanceof HeapgapError && error.code === 'PTRACE_DENIED') return { skipped: 'unreadable' };
    if (error instanceof HeapgapError && (error.code === 'NO_SUCH_PROCESS' || error.code === 'BAD_INPUT')) return { skipped: 'exited' };
    throw error;
  }
}

function readMaps(pid: number): Vma[] {
  const parser = new SmapsParser(`/proc/${pid}/maps`);
  readProcEach(pid, 'maps', (chunk) => parser.feed(chunk));
  return parser.end();
}
