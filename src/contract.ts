/**
 * The names the contract (shared/contract.md) fixes, each listed once. Types, reporters, the capture
 * schema checks and the CLI's choices are derived from these lists, so adding a name here is the
 * only edit that makes it known everywhere, and removing one does not compile where it is used.
 */

/** Where a resident byte can sit; every row of `breakdown` is one of these. Order is display order. */
export const CATEGORIES = [
  'arena', 'mmap-chunk',
  'jvm-heap', 'jvm-metaspace', 'jvm-code-cache', 'jvm-other', 'v8-heap', 'python-obmalloc',
  'anon-other', 'stack', 'file', 'shmem', 'kernel',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Categories whose memory an allocator owns (claimed by an allocator module). */
export const ALLOCATOR_CATEGORIES = ['arena', 'mmap-chunk'] as const satisfies readonly Category[];

/** What can serve malloc in a process (`target.allocator`). */
export const ALLOCATORS = ['glibc', 'jemalloc', 'tcmalloc', 'mimalloc', 'musl', 'static', 'unknown'] as const;
export type AllocatorName = (typeof ALLOCATORS)[number];

export const SEVERITIES = ['info', 'warn', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warn: 1, critical: 2 };

/** Output formats; the reporter registry (report/index.ts) must have exactly these keys. */
export const FORMATS = ['text', 'json', 'markdown', 'html', 'openmetrics'] as const;
export type Format = (typeof FORMATS)[number];

/** Schemas heapgap writes today. */
export const SCHEMAS = {
  inspect: 'heapgap.inspect/2',
  trim: 'heapgap.trim/2',
  experiment: 'heapgap.experiment/2',
  diff: 'heapgap.diff/1',
  capture: 'heapgap.capture/2',
  demo: 'heapgap.demo/1',
  watch: 'heapgap.watch/1',
  top: 'heapgap.top/1',
} as const;
/** Schemas `report` and `diff` read: today's and every older one. */
export const READABLE = {
  inspect: ['heapgap.inspect/1', 'heapgap.inspect/2'],
  capture: ['heapgap.capture/1', 'heapgap.capture/2'],
} as const;
