/** jemalloc's findings, in jemalloc's own terms (dirty/muzzy pages, decay, background threads, arenas). */
import { kind } from '../../analyse/findings/spec.js';
import { mib, pct } from '../../units.js';

export interface PurgeableData {
  pid: number;
  bytes: number;
  share: number;
  dirty: number;
  muzzy: number;
  dirtyDecayMs: number | null;
  backgroundThread: boolean | null;
  envVar: string;
  redis: boolean;
}

export interface FragmentedData {
  bytes: number;
  tcache: number;
  active: number;
  redis: boolean;
  envVar: string;
}

export interface ArenasData {
  arenas: number;
  threads: number;
  cpus: number;
  heldFree: number;
  envVar: string;
}

function decayWords(d: PurgeableData): string {
  if (d.dirtyDecayMs === -1) return 'dirty_decay_ms is -1: jemalloc never purges them by itself';
  if (d.backgroundThread) return `background threads purge them ${d.dirtyDecayMs ?? '?'} ms after they were freed`;
  return `without background threads jemalloc purges them only when the arena is used again after dirty_decay_ms (${d.dirtyDecayMs ?? '?'} ms): an idle process keeps them`;
}

export const JEMALLOC_FINDINGS = {
  'jemalloc-purgeable': kind<PurgeableData>()({
    title: 'freed pages jemalloc has not returned yet',
    message: (d) => `jemalloc holds ${mib(d.bytes)} (${pct(d.share)} of Rss) of freed pages it can return: ${mib(d.dirty)} dirty, ${mib(d.muzzy)} muzzy; ${decayWords(d)}.`,
    hint: (d) => `\`heapgap trim ${d.pid}\` purges them now (mallctl "arena.4096.purge")${d.redis ? ', as does redis\'s own `MEMORY PURGE`' : ''}. To have jemalloc return them by itself: ${d.envVar}=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0${d.redis ? ' (redis: `CONFIG SET jemalloc-bg-thread yes`)' : ''}.`,
  }),
  'jemalloc-fragmented': kind<FragmentedData>()({
    title: 'free space inside jemalloc extents that no purge returns',
    message: (d) => `${mib(d.bytes)} of jemalloc's ${mib(d.active)} of active pages is free: slots in partly used slabs, large-allocation padding${d.tcache > 0 ? ` and ${mib(d.tcache)} in thread caches` : ''}. A purge does not return it.`,
    hint: (d) => d.redis
      ? 'redis can move live values out of sparse slabs: `CONFIG SET activedefrag yes` (with active-defrag-ignore-bytes/threshold set to what you see here).'
      : `it comes back only as the remaining objects of those slabs are freed. Fewer arenas (${d.envVar}=narenas:N) spread objects over fewer slabs; thread caches are flushed as threads exit.`,
  }),
  'jemalloc-arenas': kind<ArenasData>()({
    title: 'many jemalloc arenas each keep their own free memory',
    message: (d) => `${d.arenas} jemalloc arenas are in use for ${d.threads} threads on ${d.cpus} CPUs; each keeps its own dirty pages and partly used slabs (${mib(d.heldFree)} held free in all).`,
    hint: (d) => `try ${d.envVar}=narenas:${Math.max(1, d.cpus)} (jemalloc's default is 4 per CPU), measured first with \`heapgap experiment\`.`,
  }),
} as const;
