/**
 * Every kind of finding, in one registry: its title and the words users see, written once from the
 * finding's typed data. A finding is a union keyed on `kind`, so a new kind does not compile without
 * its words, and `diff` compares kinds and subjects, not text. Allocators, runtimes and the kernel
 * layer each keep their kinds next to their code and are listed here.
 */
import { GLIBC_FINDINGS } from '../../allocators/glibc/findings.js';
import { KERNEL_FINDINGS } from '../../kernel/findings.js';
import { RUNTIME_FINDINGS } from '../../runtimes/findings.js';
import { JEMALLOC_FINDINGS } from '../../allocators/jemalloc/findings.js';
import { MIMALLOC_FINDINGS } from '../../allocators/mimalloc/findings.js';
import { MUSL_FINDINGS } from '../../allocators/musl/findings.js';
import { TCMALLOC_FINDINGS } from '../../allocators/tcmalloc/findings.js';
import type { Severity } from '../../contract.js';
import type { FindingSpec } from './spec.js';

export { kind } from './spec.js';
export type { FindingSpec } from './spec.js';

export const FINDINGS = {
  ...GLIBC_FINDINGS,
  ...RUNTIME_FINDINGS,
  ...KERNEL_FINDINGS,
  ...JEMALLOC_FINDINGS,
  ...TCMALLOC_FINDINGS,
  ...MIMALLOC_FINDINGS,
  ...MUSL_FINDINGS,
} as const;

export type FindingKind = keyof typeof FINDINGS;
export type FindingData<K extends FindingKind> = NonNullable<(typeof FINDINGS)[K]['__data']>;

export type Finding = {
  [K in FindingKind]: { kind: K; severity: Severity; bytes: number | null; data: FindingData<K>; message: string; hint: string };
}[FindingKind];

/** A finding of kind K, its message and hint written from its data by the registry. */
export function finding<K extends FindingKind>(k: K, severity: Severity, bytes: number | null, data: FindingData<K>): Finding {
  const spec = FINDINGS[k] as unknown as FindingSpec<FindingData<K>>;
  return { kind: k, severity, bytes, data, message: spec.message(data), hint: spec.hint(data) } as Finding;
}

/**
 * diff's identity of a finding: its kind and its subject. Findings from /1 documents have no data:
 * for those the words with the figures taken out stand for the subject, as heapgap 1 compared them.
 */
export function findingKey(f: { kind: string; data?: unknown; message?: string }): string {
  const spec = (FINDINGS as Record<string, FindingSpec<unknown>>)[f.kind];
  if (f.data === undefined) return `${f.kind}|${(f.message ?? '').replace(/[\d.]+ ?(MiB|KiB|GiB|B|%)?/g, '#')}`;
  return `${f.kind}|${spec?.subject ? spec.subject(f.data) : ''}`;
}
