/** mimalloc's findings, in its own terms (segments, commit, decommit delays, per-thread heaps). */
import { kind } from '../../analyse/findings/spec.js';
import { mib, pct } from '../../units.js';

export interface SegmentsData {
  pid: number;
  rss: number;
  share: number;
  committed: number;
  threads: number;
  /** The environment line that makes freed pages go back sooner, for this version. */
  envLine: string;
}

export interface NoDecommitData {
  envLine: string;
}

export interface OneThreadData {
  thread: number | null;
  pid: number;
  threads: number;
  envLine: string;
}

export const MIMALLOC_FINDINGS = {
  'mimalloc-collect-one-thread': kind<OneThreadData>()({
    title: 'mi_collect reached one thread\'s heap',
    message: (d) => `mi_collect(true) ran in thread ${d.thread ?? '?'}${d.thread === d.pid ? ' (the main thread, which also reclaims what exited threads left)' : ''}: mimalloc collects only the calling thread's heap, so free pages in the other ${Math.max(0, d.threads - 1)} threads' heaps were not returned.`,
    hint: (d) => `they come back as those threads allocate, free or exit. To have every thread return freed pages as it goes: ${d.envLine}.`,
  }),
  'mimalloc-segments': kind<SegmentsData>()({
    title: 'memory in mimalloc segments',
    message: (d) => `mimalloc's live segments are ${mib(d.rss)} resident (${pct(d.share)} of Rss; ${mib(d.committed)} committed). This mimalloc counts no bytes in use (release builds keep only OS-level counters), so the free part of it is not known before a release.`,
    hint: (d) => `\`heapgap trim ${d.pid}\` calls mi_collect(true) and measures what comes back (it reaches the calling thread's heap and abandoned segments${d.threads > 1 ? `; the other ${d.threads - 1} threads' heaps are collected only when those threads allocate or exit` : ''}). To have freed pages returned sooner: ${d.envLine}.`,
  }),
  'mimalloc-no-decommit': kind<NoDecommitData>()({
    title: 'mimalloc never returns freed pages',
    message: () => 'allow_decommit is off: mimalloc keeps every page it committed, freed or not, until the process exits.',
    hint: (d) => `unset it, or set ${d.envLine}.`,
  }),
} as const;
