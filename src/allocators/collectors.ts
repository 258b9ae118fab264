/** Collect side of every allocator heapgap can measure (I/O; see types.ts for the seam). */
import type { AllocatorName } from '../contract.js';
import { glibcCollector } from './glibc/prepare.js';
import type { Collector } from './types.js';

export const COLLECTORS: Partial<Record<AllocatorName, Collector>> = {
  glibc: glibcCollector as Collector,
};
