import type { Category, Vma } from '../types.js';
import type { RuntimeClaim, RuntimeRegion } from './types.js';

/** Index ranges [from, to) of VMAs; helpers shared by the recognisers. All pure. */
export interface Span {
  from: number;
  to: number;
}

export const hex = (n: bigint) => `0x${n.toString(16)}`;

/**
 * Reservations of exactly `size` bytes: runs of address-contiguous VMAs that `ok` accepts, starting
 * and ending on VMA boundaries. A runtime reserves a range with one PROT_NONE mmap and commits
 * parts of it, so its VMAs tile the range exactly; the kernel splits them at every commit.
 */
export function reservations(vmas: readonly Vma[], size: bigint, ok: (i: number) => boolean, align = 4096n): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < vmas.length; i++) {
    if (!ok(i) || vmas[i]!.start % align !== 0n) continue;
    const want = vmas[i]!.start + size;
    // bounded: a reservation is a few hundred VMAs at most, and 60,000 small contiguous ones must not go quadratic
    for (let j = i; j < vmas.length && j - i < 4096 && ok(j) && (j === i || vmas[j]!.start === vmas[j - 1]!.end); j++) {
      if (vmas[j]!.end === want) {
        out.push({ from: i, to: j + 1 });
        break;
      }
      if (vmas[j]!.end > want) break;
    }
  }
  return out;
}

export function spanBytes(vmas: readonly Vma[], s: Span, pick: (v: Vma) => number): number {
  let n = 0;
  for (let i = s.from; i < s.to; i++) n += pick(vmas[i]!);
  return n;
}

export const overlaps = (a: Span, b: Span) => a.from < b.to && b.from < a.to;

/** Claims for every VMA of a span (whole VMAs: their Rss is smaps' own). */
export function claimSpan(vmas: readonly Vma[], s: Span, category: Category): RuntimeClaim[] {
  const out: RuntimeClaim[] = [];
  for (let i = s.from; i < s.to; i++) out.push({ start: vmas[i]!.start, end: vmas[i]!.end, category, rss: vmas[i]!.rss });
  return out;
}

/** A report region measured over VMA indices (contiguous or not). */
export function measure(vmas: readonly Vma[], indices: readonly number[], name: string, category: Category, said: Partial<Pick<RuntimeRegion, 'committedBytes' | 'usedBytes' | 'maxBytes' | 'source'>> = {}): RuntimeRegion {
  const sorted = [...indices].sort((a, b) => a - b);
  const contiguous = sorted.every((i, k) => k === 0 || vmas[i]!.start === vmas[sorted[k - 1]!]!.end);
  const first = vmas[sorted[0]!];
  const last = vmas[sorted[sorted.length - 1]!];
  return {
    name,
    category,
    start: contiguous && first ? hex(first.start) : null,
    end: contiguous && last ? hex(last.end) : null,
    rss: sorted.reduce((s, i) => s + vmas[i]!.rss, 0),
    size: sorted.reduce((s, i) => s + vmas[i]!.size, 0),
    vmas: sorted.length,
    committedBytes: said.committedBytes ?? null,
    usedBytes: said.usedBytes ?? null,
    maxBytes: said.maxBytes ?? null,
    source: said.source ?? null,
  };
}

export const indicesOf = (s: Span) => Array.from({ length: s.to - s.from }, (_, k) => s.from + k);

/** `-Xmx2g`, `--max-old-space-size=512` style sizes; `unit` is the multiplier of a bare number. */
export function parseSize(text: string, unit = 1): number | null {
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(text.trim());
  if (!m) return null;
  const mult = { '': unit, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * mult;
}
