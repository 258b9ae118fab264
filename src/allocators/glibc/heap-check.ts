/**
 * The heap check's result as stop_checks.py returns it (check_heap), and its form in the capture.
 * Figures of the target's own memory: a corrupted top can read as 2^64 bytes, so sizes that cannot
 * be true are dropped rather than carried as numbers.
 */
import type { HeapCheck, HeapProblem } from './section.js';

interface RawProblem {
  list: string;
  bin: number | null;
  chunk: string | null;
  arena: string | null;
  what: string;
  cause: string;
  text: string;
  corrupt: boolean;
}

export interface RawCheck {
  skipped?: boolean;
  ms: number;
  unverified?: number[];
  steps?: number;
  incomplete: boolean;
  before?: { ms?: number; complete?: boolean; clean?: boolean; chunks?: number; error?: string } | null;
  coveredBefore?: boolean;
  corrupt: RawProblem[];
  ring: RawProblem[];
  arenas: {
    index: number;
    address: string;
    figures: { systemMem?: number; top?: string; topBytes?: number; fastBytes?: number; fastChunks?: number; binBytes?: number; binChunks?: number; heaps?: { start: string; size: number; mprotectSize: number }[] };
    problems: RawProblem[];
  }[];
}

/** Larger than any heap: a size read from a corrupted header. */
const IMPOSSIBLE = 2 ** 52;

export function heapCheckOf(raw: RawCheck): HeapCheck {
  const indexOf = new Map(raw.arenas.map((a) => [a.address, a.index]));
  const problem = (p: RawProblem): HeapProblem => ({
    arena: p.arena !== null ? (indexOf.get(p.arena) ?? null) : null,
    arenaAddress: p.arena,
    list: p.list,
    bin: p.bin,
    chunk: p.chunk,
    what: p.what,
    cause: p.cause,
    text: p.text,
  });
  const size = (n: number | undefined) => (typeof n === 'number' && n >= 0 && n < IMPOSSIBLE ? n : null);
  return {
    ms: raw.ms,
    complete: !raw.incomplete,
    unverified: raw.unverified ?? [],
    ...(typeof raw.steps === 'number' ? { steps: raw.steps } : {}),
    ...(raw.before && typeof raw.before.ms === 'number' ? { before: { ms: raw.before.ms, complete: raw.before.complete === true, clean: raw.before.clean === true, ...(typeof raw.before.chunks === 'number' ? { chunks: raw.before.chunks } : {}) } } : {}),
    ...(raw.coveredBefore ? { coveredBefore: true } : {}),
    corrupt: raw.corrupt.map(problem),
    arenas: raw.arenas.map((a) => {
      const f = a.figures;
      const topBad = a.problems.some((p) => p.list === 'top');
      return {
        index: a.index,
        address: a.address,
        systemMem: size(f.systemMem) ?? 0,
        top: topBad ? null : (f.top ?? null),
        topBytes: topBad ? null : size(f.topBytes),
        fastBytes: f.fastBytes ?? 0,
        fastChunks: f.fastChunks ?? 0,
        binBytes: f.binBytes ?? 0,
        binChunks: f.binChunks ?? 0,
        whole: a.problems.length === 0,
        // walked newest first, as malloc_info does; the layout lists them oldest first
        heaps: [...(f.heaps ?? [])].reverse(),
      };
    }),
  };
}
