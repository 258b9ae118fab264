/** musl's one finding: it keeps no statistics (named plainly, with what smaps alone says). */
import { kind } from '../../analyse/findings/spec.js';
import { mib } from '../../units.js';

export interface NoStatsData {
  brkRss: number;
  anonRss: number;
}

export const MUSL_FINDINGS = {
  'musl-no-stats': kind<NoStatsData>()({
    title: 'musl\'s malloc keeps no statistics',
    message: (d) => `musl's malloc (mallocng) has no statistics to read: heapgap can only say that its metadata in [heap] is ${mib(d.brkRss)} resident, and anonymous mappings ${mib(d.anonRss)} (its groups, and anything else mapped anonymously).`,
    hint: () => 'mallocng returns freed groups to the kernel itself, so there is no trim to call. To see the held-free gap, run the program with an allocator that reports itself, e.g. LD_PRELOAD of libjemalloc or libmimalloc built for musl.',
  }),
} as const;
