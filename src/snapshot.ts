import type { AllocatorName } from './contract.js';
import type { GlibcLayout, GlibcSection } from './allocators/glibc/section.js';
import type { JemallocSection } from './allocators/jemalloc/section.js';
import type { MimallocSection } from './allocators/mimalloc/section.js';
import type { MuslSection } from './allocators/musl/analyse.js';
import type { TcmallocSection } from './allocators/tcmalloc/section.js';
import type { Pause } from './types.js';
import type { CgroupReport } from './kernel/cgroup.js';
import type { RuntimeFacts } from './runtimes/types.js';

/**
 * Everything inspect needs about one process at one moment: raw inputs plus what only a live process
 * can tell (allocator metadata read while stopped, Rss of sub-ranges from pagemap). A capture file is
 * exactly this object, so `report` re-analyses old captures with today's code.
 */
export interface Snapshot {
  schema: 'heapgap.capture/2';
  heapgapVersion: string;
  takenAt: string;
  pid: number;
  comm: string;
  cpus: number;
  /** The allocator that serves malloc. */
  allocator: AllocatorName;
  /** Every allocator that serves memory in the process. */
  allocators: AllocatorName[];
  allocatorEvidence: string | null;
  glibcVersion: string | null;
  /** Allocator-related environment variables only. */
  env: Record<string, string>;
  raw: { smaps: string; status: string };
  /** Each allocator's section, as its collector measured it (see src/allocators/<name>/). */
  sections: Sections;
  stackPointers: string[];
  /**
   * A trim: smaps after detach (raw.smaps is from before attach), and /proc/PID/status read in the
   * stop right before and after the release call (its Rss), so `report` can replay it; whose
   * release call it was and what it said (allocators other than glibc report their own figures
   * around the call). rollupBefore/After: smaps_rollup instead of status, in earlier captures.
   */
  trim?: TrimRaw;
  pause: Pause | null;
  notes: string[];
  /** Read before attach without stopping the target: command line, JVM hsperfdata (absent in older captures). */
  runtime?: RuntimeFacts | null;
  /** The memory cgroup, read right after the measurement (absent in older captures). */
  cgroup?: CgroupReport | null;
  /** /proc/PID/smaps_rollup read last: rss.uss and rss.lazyFree as the target is left (absent in older captures). */
  rollupAfter?: string | null;
}

/** The capture sections, one per allocator that has a collector. */
export interface Sections {
  glibc?: GlibcSection;
  jemalloc?: JemallocSection;
  tcmalloc?: TcmallocSection;
  mimalloc?: MimallocSection;
  musl?: MuslSection;
}

/** heapgap.capture/1: glibc only, its figures at the top level. `report` still reads these. */
export interface SnapshotV1 {
  schema: 'heapgap.capture/1';
  heapgapVersion: string;
  takenAt: string;
  pid: number;
  comm: string;
  cpus: number;
  allocator: AllocatorName;
  allocatorEvidence: string | null;
  glibcVersion: string | null;
  env: Record<string, string>;
  heapMax: number;
  raw: { smaps: string; status: string; mallocInfo: string | null };
  layout: GlibcLayout | null;
  claims: GlibcSection['claims'];
  stackPointers: string[];
  trimmable?: GlibcSection['trimmable'];
  pause: { stoppedMs: number | null; attachMs: number | null; callMs: number | null } | null;
  notes: string[];
}

/** A /1 capture in today's shape: its glibc figures become the glibc section. */
export function upgradeCapture(v1: SnapshotV1): Snapshot {
  const { heapMax, layout, claims, trimmable, raw, schema: _schema, ...rest } = v1;
  const glibc: GlibcSection | undefined = raw.mallocInfo === null ? undefined : { heapMax, mallocInfo: raw.mallocInfo, layout, claims, ...(trimmable ? { trimmable } : {}) };
  return { ...rest, schema: 'heapgap.capture/2', allocators: [v1.allocator], raw: { smaps: raw.smaps, status: raw.status }, sections: glibc ? { glibc } : {} };
}

/**
 * What a trim adds to a capture (see Snapshot.trim): smaps after the call, /proc/PID/status around
 * it (smaps_rollup in captures of earlier builds), and what the call itself returned.
 */
export interface TrimRaw {
  pad: number;
  returned: number | null;
  smapsAfter: string;
  statusBefore?: string | null;
  statusAfter?: string | null;
  rollupBefore?: string | null;
  rollupAfter?: string | null;
  /** Whose release call it was (absent in captures from before other allocators: glibc). */
  allocator?: AllocatorName;
  /** What the release call itself said (stop.py's release() result). */
  release?: unknown;
}
