/**
 * The seam every allocator implements, in two halves so that analyse/ stays pure:
 * - a Collector (collect side, I/O): before attach it plans its part of the stop (its stop.py and
 *   parameters); after detach it measures what needs the running target (/proc/PID/mem, pagemap)
 *   and returns its section of the capture;
 * - an Analyser (pure): its capture section and the process's VMAs in, its arenas, statistics,
 *   claims on address ranges and findings out.
 * A new allocator is one folder under src/allocators/ plus one line in collectors.ts and analysers.ts.
 */
import type { AllocatorName, Category } from '../contract.js';
import type { LibcImage } from '../collect/elf.js';
import type { ProcMemory } from '../collect/memory.js';
import type { StopPlan } from '../collect/safe-call/types.js';
import type { Finding } from '../analyse/findings/index.js';
import type { ArenaEntry, ProcStatus, RssFigures, Vma } from '../types.js';
import type { ProcessAllocators } from './detect-process.js';

/** What a collector knows of the target before attaching. */
export interface Target {
  pid: number;
  /** /proc/PID/maps, parsed (no Rss figures). */
  maps: Vma[];
  /** The target's glibc, as this process can open it. */
  libc: { path: string; base: bigint; image: LibcImage };
  /** Allocator-related environment variables only. */
  env: Record<string, string>;
  cpus: number;
  /** Which allocators the process has, where, and which serves malloc (detect-process.ts). */
  allocators: ProcessAllocators;
}

/** After detach: the target runs again; these are read for every allocator once. */
export interface Measured {
  vmas: Vma[];
  memory: ProcMemory;
  pad: number;
  mode: 'inspect' | 'trim';
}

export interface Prepared<S> {
  plan: StopPlan;
  /** Turns what stop.py's collect() returned into this allocator's capture section. */
  measure(raw: unknown, m: Measured): Promise<S>;
  notes: string[];
}

export interface Collector<S = unknown> {
  name: AllocatorName;
  prepare(t: Target): Promise<Prepared<S>>;
}

/** An address range an allocator or runtime owns, with its measured Rss (pagemap for part of a VMA). */
export interface Claim {
  start: bigint;
  end: bigint;
  category: Category;
  rss: number;
}

export interface AnalyseInput {
  pid: number;
  vmas: Vma[];
  status: ProcStatus;
  env: Record<string, string>;
  cpus: number;
  /** The process's Rss figures (for shares). */
  rss: RssFigures;
}

export interface AllocatorAnalysis {
  arenas: ArenaEntry[];
  claims: Claim[];
  /** allocatorStats.<name>: the allocator's own figures, under its own names. */
  stats: Record<string, number | boolean | string | null> | null;
  /** glibc: mmapped chunks (count, bytes, resident). */
  mmapChunks: { count: number; bytes: number; rss: number } | null;
  findings: Finding[];
  notes: string[];
}

export interface Analyser<S = unknown> {
  name: AllocatorName;
  analyse(section: S, input: AnalyseInput): AllocatorAnalysis;
}
