import type { ArenaReport, FindingReport, InspectReport, Severity } from '../types.js';
import { sum } from './arena-figures.js';
import { raisedThresholdText } from '../allocators/glibc/heap-analysis.js';
import type { Thresholds } from '../allocators/glibc/heap-analysis.js';

/** Every kind of finding, with the words users see. A new kind does not compile without them. */
export const FINDINGS = {
  'held-free-gap': { title: 'resident memory held free by malloc', hint: 'run `heapgap trim PID` (or call malloc_trim(0) from the app after a burst) to hand the free pages back; `heapgap trim PID --dry-run` shows what it would return first.' },
  'held-free-untrimmable': { title: 'resident memory held free that a trim cannot return', hint: 'it comes back only as the chunks around it are freed; a trim now gains little. Fewer arenas (MALLOC_ARENA_MAX) keep less of it; see the other findings for where it sits.' },
  'pinned-top': { title: 'free memory below a live chunk', hint: 'free() only trims the top of a heap; a long-lived allocation made late keeps everything below it. malloc_trim releases the free pages in the middle; allocating long-lived objects early (or from a pool) avoids it.' },
  'thread-top-resident': { title: 'thread-arena top chunks stay resident', hint: 'malloc_trim never shrinks a thread arena\'s top; only free() of a chunk >= 64 KiB does. Fewer arenas (MALLOC_ARENA_MAX) keeps less of this around.' },
  'arena-count': { title: 'more arenas than the workload needs', hint: 'try the environment line shown, measured first with `heapgap experiment --arena-max 2,4,default -- <command>`.' },
  'mmap-chunks': { title: 'memory in mmapped chunks', hint: 'chunks above the mmap threshold go straight back to the kernel on free(); this memory is live.' },
  'no-top-figure': { title: 'this glibc does not report the top chunk', hint: 'before glibc 2.31 malloc_info leaves the top chunk out, so in-use includes it: read inUseBytes as an upper bound.' },
  'trim-thread-tops': { title: 'thread-arena tops are not trimmed', hint: 'malloc_trim madvises free chunks in bins but never shrinks a thread arena\'s top chunk; that memory returns only when a later free() trims it, or never. Fewer arenas keep less of it.' },
  'trim-tcache': { title: 'tcache is invisible to trim', hint: 'up to 7 chunks per size class per thread sit in tcache, counted as in use by malloc_info and never released by malloc_trim; GLIBC_TUNABLES=glibc.malloc.tcache_count=0 removes them at some speed cost.' },
  'trim-brk-pinned': { title: 'the main heap cannot shrink below a live chunk', hint: 'brk only moves down to the highest live chunk; the free pages below it were released with madvise, so Rss dropped but the [heap] mapping stayed as large.' },
  'mmap-threshold-raised': { title: "glibc's dynamic mmap threshold was raised", hint: 'set MALLOC_MMAP_THRESHOLD_ (or GLIBC_TUNABLES=glibc.malloc.mmap_threshold) to fix the threshold.' },
  'inferred-join': { title: 'arena heaps joined by inference', hint: 'the arena ring could not be read from the target\'s memory, so single-heap arenas were matched to heap blocks by size and arenas of several heaps were left unjoined. Run heapgap with ptrace rights over the target (same user, root or CAP_SYS_PTRACE).' },
} as const satisfies Record<string, { title: string; hint: string }>;

export type FindingKind = keyof typeof FINDINGS;

const MIB = 1024 * 1024;

function finding(kind: FindingKind, severity: Severity, bytes: number | null, message: string, hint: string = FINDINGS[kind].hint): FindingReport {
  return { kind, severity, bytes, message, hint };
}

export function findings(r: InspectReport, ctx: { thresholds: Thresholds; topInRest: boolean }): FindingReport[] {
  const trimThreshold = ctx.thresholds.trimThreshold;
  const thresholdWords = `trim threshold ${mib(trimThreshold)}${ctx.thresholds.source === 'memory' ? '' : `, ${ctx.thresholds.source === 'default' ? "glibc's default, assumed" : 'from the environment'}`}`;
  const out: FindingReport[] = [];
  const rss = Math.max(1, r.rss.total);
  const gap = r.totals.heldFreeRssBytes;
  if (gap >= MIB) {
    const share = gap / rss;
    const severity: Severity = share >= 0.25 && gap >= 64 * MIB ? 'critical' : share >= 0.1 && gap >= 8 * MIB ? 'warn' : 'info';
    const trimmable = r.totals.predictedTrimBytes;
    if (trimmable >= 0.25 * gap) {
      out.push(finding('held-free-gap', severity, gap,
        `${mib(gap)} of Rss (${pct(share)}) is memory malloc holds free; a trim would return about ${mib(trimmable)} now.`,
        FINDINGS['held-free-gap'].hint.replace('PID', String(r.target.pid))));
    } else {
      // Recommending a trim that returns next to nothing (e.g. right after one) would mislead.
      out.push(finding('held-free-untrimmable', severity, gap,
        `${mib(gap)} of Rss (${pct(share)}) is memory malloc holds free, but a trim would return only about ${mib(trimmable)}: the rest is in pages shared with live chunks, in thread-arena tops and in fastbins.`));
    }
  }
  const pinned = r.arenas.filter((x) => x.pinnedTop);
  if (pinned.length > 0) {
    // Walked arenas count the resident free pages below their pinning chunks; others malloc_info's bin bytes.
    const held = (a: ArenaReport) => a.pinnedResidentBytes ?? a.binFreeBytes;
    const bytes = sum(pinned.map(held));
    const which = pinned.map((a) => {
      const top = a.pinning?.[0];
      const chunk = top ? ` below ${top.address} (${kib(top.size)}${(a.pinningChunks ?? 1) > 1 ? ` and ${(a.pinningChunks ?? 1) - 1} more live chunk(s)` : ''})` : '';
      return `${a.index}${a.kind === 'main' ? ' (main)' : ''}: ${mib(held(a))}${chunk}`;
    }).join(', ');
    out.push(finding('pinned-top', bytes >= 16 * MIB ? 'warn' : 'info', bytes,
      `${mib(bytes)} of resident memory is free below a live chunk in ${pinned.length} arena(s), which automatic trimming (${thresholdWords}) cannot return: arena ${which}.`));
  }
  if (ctx.thresholds.raised) {
    const text = raisedThresholdText(ctx.thresholds);
    const held = r.totals.heldFreeRssBytes;
    out.push(finding('mmap-threshold-raised', held >= 8 * MIB ? 'warn' : 'info', held, text.message, text.hint));
  }
  const threadTops = r.arenas.filter((a) => a.kind === 'thread' && a.topBytes >= trimThreshold);
  const topBytes = sum(threadTops.map((a) => Math.min(a.topBytes, a.heldFreeRssBytes)));
  if (topBytes >= MIB) {
    out.push(finding('thread-top-resident', topBytes >= 32 * MIB ? 'warn' : 'info', topBytes,
      `${threadTops.length} thread arena(s) keep ${mib(topBytes)} of free top chunk resident (tops above the ${thresholdWords}); malloc_trim will not return it.`));
  }
  const advice = arenaAdvice(r.arenas, r.arenaMax.cpus, r.arenaMax.configured);
  if (advice) {
    out.push(finding('arena-count', advice.saving >= 64 * MIB ? 'warn' : 'info', advice.saving,
      `${r.arenaMax.arenas} arenas for ${r.arenaMax.threads} threads on ${r.arenaMax.cpus} CPUs (default limit ${r.arenaMax.defaultLimit}); capping at ${advice.cap} could save up to ${mib(advice.saving)}: the free memory the other arenas keep resident. How much of it comes back depends on how the threads' peaks overlap.`,
      `try MALLOC_ARENA_MAX=${advice.cap} (or GLIBC_TUNABLES=glibc.malloc.arena_max=${advice.cap}); ${FINDINGS['arena-count'].hint}`));
  }
  if (r.mmapChunks.bytes >= 16 * MIB) {
    out.push(finding('mmap-chunks', 'info', r.mmapChunks.bytes, `${r.mmapChunks.count} mmapped chunks hold ${mib(r.mmapChunks.bytes)} (${mib(r.mmapChunks.rss)} resident); requests from ${mib(ctx.thresholds.mmapThreshold)} up are mmapped (${ctx.thresholds.source === 'memory' ? "glibc's current threshold" : 'threshold assumed'}).`));
  }
  if (!ctx.topInRest) out.push(finding('no-top-figure', 'info', null, 'malloc_info from this glibc has no top-chunk figure.'));
  if (r.arenas.some((a) => a.join === 'inferred')) out.push(finding('inferred-join', 'warn', null, 'thread-arena heaps could not be confirmed from the target\'s memory.'));
  return out;
}

/**
 * Upper bound of what capping arenas at `cap` saves: threads would share the `cap` arenas that hold
 * the most live memory, and at best the free memory the other arenas keep resident would not exist.
 * A snapshot cannot tell how the threads' peaks overlap, so this is a bound, not a forecast
 * (measured on the fragmenter workload: bound 73.7 MiB, experiment 22 MiB; see README).
 */
export function arenaAdvice(arenas: ArenaReport[], cpus: number, configured: number | null): { cap: number; saving: number } | null {
  const cap = Math.max(2, Math.min(cpus, 4));
  if (arenas.length <= cap || (configured !== null && configured <= cap)) return null;
  const byUse = [...arenas].sort((a, b) => b.inUseBytes - a.inUseBytes);
  const saving = sum(byUse.slice(cap).map((a) => a.heldFreeRssBytes));
  return saving >= 4 * MIB ? { cap, saving } : null;
}

export const mib = (n: number): string => `${(n / MIB).toFixed(1)} MiB`;
const kib = (n: number): string => (n >= MIB ? mib(n) : `${(n / 1024).toFixed(1)} KiB`);
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
