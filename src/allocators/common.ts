/**
 * What the jemalloc, tcmalloc, mimalloc and musl modules share: where their stop.py is, the input
 * their pure analyses take, and small readers of stop.py's results.
 */
import { HeapgapError } from '../errors.js';
import type { Severity } from '../types.js';
import type { AnalyseInput, Target } from './types.js';
import { packagePath } from '../paths.js';

/** src/allocators/<name>/stop.py (shipped as source). */
export function stopScript(name: string): string {
  return packagePath('src', 'allocators', name, 'stop.py');
}

/** What the non-glibc analyses need of the process besides their section. */
export interface OtherInput {
  pid: number;
  comm: string;
  cpus: number;
  threads: number;
  env: Record<string, string>;
  rssTotal: number;
}

export function otherInput(i: AnalyseInput): OtherInput {
  return { pid: i.pid, comm: i.status.name, cpus: i.cpus, threads: i.status.threads, env: i.env, rssTotal: i.rss.total };
}

const MIB = 1024 * 1024;

/** The severity scale glibc's held-free findings use: share of Rss and size together. */
export function gapSeverity(bytes: number, rssTotal: number): Severity {
  const share = bytes / Math.max(1, rssTotal);
  return share >= 0.25 && bytes >= 64 * MIB ? 'critical' : share >= 0.1 && bytes >= 8 * MIB ? 'warn' : 'info';
}

/** A number field of a stop.py result, or null (stop.py reports a failed read as None). */
export function num(o: Record<string, unknown>, key: string): number | null {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HeapgapError('BAD_INPUT', `${what} is not an object`);
  return v as Record<string, unknown>;
}

/** The environment variable a jemalloc copy reads its options from: MALLOC_CONF, JE_MALLOC_CONF for prefix je_. */
export function mallocConfVar(prefix: string): string {
  return `${prefix.toUpperCase()}MALLOC_CONF`;
}

/** This allocator's presence in the process, as detect-process found it. */
export function presenceOf(t: Target, name: string) {
  const p = t.allocators.present.find((x) => x.name === name);
  if (!p) throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `no ${name} in process ${t.pid}`);
  // A static copy lives in the executable, already opened with its .symtab.
  return { p, opened: p.static && t.allocators.exe?.object === p.object ? t.allocators.exe : undefined };
}
