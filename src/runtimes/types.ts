import type { Category, FindingReport, Vma } from '../types.js';

export type RuntimeName = 'jvm' | 'v8' | 'cpython';

/**
 * What heapgap learns about the runtime before attaching, without stopping the target. Stored in
 * the capture (Snapshot.runtime) so `report` re-renders it; captures without it still render.
 */
export interface RuntimeFacts {
  /** /proc/PID/cmdline split at NULs (JVM flags such as -Xmx, node's --max-old-space-size). */
  cmdline: string[];
  /** The JVM's hsperfdata counters it publishes itself (name -> value), where readable. */
  hsperfdata: { path: string; counters: Record<string, number | string> } | null;
  /** Lines of `jcmd PID VM.info` (heap, class space, code heap ranges), only with --jvm-jcmd. */
  jcmdVmInfo?: string;
  /** Why hsperfdata is missing, when the process is a JVM. */
  hsperfdataNote?: string;
}

/** An address range a runtime owns: always whole VMAs, so its Rss is the VMAs' own. */
export interface RuntimeClaim {
  start: bigint;
  end: bigint;
  category: Category;
  rss: number;
}

/** One region of a runtime in the report: measured in smaps, next to what the runtime says. */
export interface RuntimeRegion {
  /** e.g. "java heap", "compressed class space", "code cache", "v8 pages", "obmalloc arenas". */
  name: string;
  category: Category;
  /** The reserved range, where one contiguous range holds it. */
  start: string | null;
  end: string | null;
  rss: number;
  /** Address space reserved (resident or not). */
  size: number;
  vmas: number;
  /** What the runtime itself says, in bytes (null where it says nothing). */
  committedBytes: number | null;
  usedBytes: number | null;
  maxBytes: number | null;
  /** Where the runtime's figures come from (e.g. "hsperfdata sun.gc.generation.*"). */
  source: string | null;
}

export interface RuntimeReport {
  runtime: RuntimeName;
  /** What identified it (a mapped file). */
  evidence: string;
  version: string | null;
  regions: RuntimeRegion[];
  notes: string[];
}

export interface RuntimeAnalysis {
  report: RuntimeReport;
  claims: RuntimeClaim[];
  findings: FindingReport[];
}

/** What every recogniser gets: the VMAs, which of them are free for it to claim, the facts. */
export interface RuntimeInput {
  vmas: readonly Vma[];
  /** The category each VMA has without runtime rules (arena/mmap-chunk where malloc claims part of it). */
  base: readonly Category[];
  facts: RuntimeFacts | null;
}
