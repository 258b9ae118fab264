/** Collect side of every allocator heapgap can measure (I/O; see types.ts for the seam). */
import type { AllocatorName } from '../contract.js';
import { glibcCollector } from './glibc/prepare.js';
import { jemallocCollector } from './jemalloc/index.js';
import { mimallocCollector } from './mimalloc/index.js';
import { tcmallocCollector } from './tcmalloc/index.js';
import type { Collector } from './types.js';

export const COLLECTORS: Partial<Record<AllocatorName, Collector>> = {
  glibc: glibcCollector as Collector,
  jemalloc: jemallocCollector as Collector,
  tcmalloc: tcmallocCollector as Collector,
  mimalloc: mimallocCollector as Collector,
};
