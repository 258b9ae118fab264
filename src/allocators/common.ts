/**
 * What the jemalloc, tcmalloc, mimalloc and musl modules share: the shape of their part of the stop,
 * their arena entries and analysis, and the finding-spec helper their findings are declared with.
 */
import { fileURLToPath } from 'node:url';
import { HeapgapError } from '../errors.js';
import type { Allocator as AllocatorName, Severity } from '../types.js';

/** One allocator's part of the stop (the protocol core's StopPlan). */
export interface AllocatorPlan {
  name: AllocatorName;
  /** Absolute path of its stop.py, a file of heapgap's. */
  script: string;
  /** Handed to stop.py's collect()/release(); `addr` holds the functions resolved before attach. */
  params: Record<string, unknown> & { addr: Record<string, string> };
  /** Where a thread must not be stopped to be called from: the allocator's code. */
  forbiddenRanges: [bigint, bigint][];
}

/** src/allocators/<name>/stop.py, from dist/allocators/<name>/*.js or src/allocators/<name>/*.ts. */
export function stopScript(name: string): string {
  return fileURLToPath(new URL(`../../src/allocators/${name}/stop.py`, import.meta.url));
}

/** An address range an allocator owns, with its measured Rss. */
export interface Claim {
  start: bigint;
  end: bigint;
  category: 'arena';
  rss: number;
}

/**
 * An arena entry for an allocator other than glibc (contract v2: fields that do not apply are null).
 * `purgeableBytes`: resident free memory its own release call gives back; `heldFreeRssBytes`: all
 * resident free memory it holds, purgeable or not.
 */
export interface OtherArena {
  index: number;
  allocator: AllocatorName;
  kind: null;
  address: null;
  heaps: { start: string; end: string; size: number; mappedBytes: number; rss: number; vmas: { start: string; end: string; rss: number; perm: string }[] }[];
  systemBytes: number | null;
  inUseBytes: number | null;
  freeBytes: number | null;
  fastFreeBytes: null;
  binFreeBytes: null;
  topBytes: null;
  rssBytes: number | null;
  heldFreeRssBytes: number | null;
  purgeableBytes: number | null;
  /** Resident free memory the release call cannot return (partly used slabs, per-thread caches). */
  notPurgeableBytes: number | null;
  pinnedTop: null;
  predictedTrimBytes: number | null;
  /** memory: Rss from smaps of ranges the allocator confirmed; allocator: its own resident count. */
  join: 'memory' | 'allocator' | 'none';
  /** The allocator's own figures for this arena, under its names. */
  detail: Record<string, number | null>;
}

export interface OtherAnalysis {
  stats: Record<string, number | boolean | string | null>;
  arenas: OtherArena[];
  claims: Claim[];
  findings: OtherFinding[];
  notes: string[];
}

/** The finding-spec shape of analyse/findings (title, words written from typed data). */
export interface FindingSpec<D> {
  title: string;
  message(d: D): string;
  hint(d: D): string;
  subject?(d: D): string;
}
export const kind = <D>() => <S extends FindingSpec<D>>(s: S): S & { __data?: D } => s;

export interface OtherFinding {
  kind: string;
  severity: Severity;
  bytes: number | null;
  data: unknown;
  message: string;
  hint: string;
}

/** A finding from a registry of specs: its words written from its data. */
export function makeFinding<R extends Record<string, FindingSpec<never>>, K extends keyof R & string>(
  registry: R, k: K, severity: Severity, bytes: number | null, data: NonNullable<R[K] extends { __data?: infer D } ? D : never>,
): OtherFinding {
  const spec = registry[k] as unknown as FindingSpec<typeof data>;
  return { kind: k, severity, bytes, data, message: spec.message(data), hint: spec.hint(data) };
}

const MIB = 1024 * 1024;
export const mib = (n: number): string => `${(n / MIB).toFixed(1)} MiB`;
export const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

/** The severity scale glibc's held-free findings use: share of Rss and size together. */
export function gapSeverity(bytes: number, rssTotal: number): Severity {
  const share = bytes / Math.max(1, rssTotal);
  return share >= 0.25 && bytes >= 64 * MIB ? 'critical' : share >= 0.1 && bytes >= 8 * MIB ? 'warn' : 'info';
}

/** A non-negative integer field of a stop.py result, or null (stop.py reports a failed read as None). */
export function num(o: Record<string, unknown>, key: string): number | null {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HeapgapError('BAD_INPUT', `${what} is not an object`);
  return v as Record<string, unknown>;
}

export const hex = (n: bigint): string => `0x${n.toString(16)}`;

/** What the non-glibc analysers are given besides their section. */
export interface OtherInput {
  pid: number;
  comm: string;
  cpus: number;
  threads: number;
  env: Record<string, string>;
  rssTotal: number;
}

/** The environment variable a jemalloc copy reads its options from: MALLOC_CONF, JE_MALLOC_CONF for prefix je_. */
export function mallocConfVar(prefix: string): string {
  return `${prefix.toUpperCase()}MALLOC_CONF`;
}
