/** tcmalloc's findings, in its own terms (page heap, central/transfer/thread caches, release rate). */
import { kind } from '../../analyse/findings/spec.js';
import { mib, pct } from '../../units.js';

export interface PageheapData {
  pid: number;
  bytes: number;
  share: number;
  releaseRate: string | null;
  aggressive: boolean;
}

export interface CachesData {
  bytes: number;
  central: number;
  transfer: number;
  thread: number;
  threadLimit: number | null;
}

export const TCMALLOC_FINDINGS = {
  'tcmalloc-pageheap-free': kind<PageheapData>()({
    title: 'free pages tcmalloc\'s page heap has not returned yet',
    message: (d) => `tcmalloc's page heap holds ${mib(d.bytes)} (${pct(d.share)} of Rss) of free spans it has not returned to the kernel; it returns them a little at a time as more memory is freed (TCMALLOC_RELEASE_RATE ${d.releaseRate ?? '1, the default'}${d.aggressive ? ', aggressive decommit on' : ''}), so an idle process keeps them.`,
    hint: (d) => `\`heapgap trim ${d.pid}\` returns them now (MallocExtension_ReleaseFreeMemory). To return them sooner by itself: TCMALLOC_RELEASE_RATE=10 (0 never releases), or TCMALLOC_AGGRESSIVE_DECOMMIT=true (returns free spans at once, at some CPU cost).`,
  }),
  'tcmalloc-cache-free': kind<CachesData>()({
    title: 'free objects in tcmalloc\'s caches',
    message: (d) => `${mib(d.bytes)} sits as free objects in tcmalloc's caches (central ${mib(d.central)}, transfer ${mib(d.transfer)}, thread ${mib(d.thread)}); ReleaseFreeMemory does not return them.`,
    hint: (d) => `thread caches are capped by TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES (now ${d.threadLimit === null ? 'unknown' : mib(d.threadLimit)}); a lower cap keeps less. Central and transfer caches shrink as their objects are reused.`,
  }),
} as const;
