/** glibc malloc's findings: their words (the registry in analyse/findings lists them) and when they fire. */
import { kind } from '../../analyse/findings/spec.js';
import { mib, pct } from '../../units.js';

export const GLIBC_FINDINGS = {
  'held-free-gap': kind<{ gapBytes: number; share: number; trimmableBytes: number; pid: number }>()({
    title: 'resident memory held free by malloc',
    message: (d) => `${mib(d.gapBytes)} of Rss (${pct(d.share)}) is memory malloc holds free; a trim would return about ${mib(d.trimmableBytes)} now.`,
    hint: (d) => `run \`heapgap trim ${d.pid}\` (or call malloc_trim(0) from the app after a burst) to hand the free pages back; \`heapgap trim ${d.pid} --dry-run\` shows what it would return first.`,
  }),
  'held-free-untrimmable': kind<{ gapBytes: number; share: number; trimmableBytes: number }>()({
    title: 'resident memory held free that a trim cannot return',
    message: (d) => `${mib(d.gapBytes)} of Rss (${pct(d.share)}) is memory malloc holds free, but a trim would return only about ${mib(d.trimmableBytes)}: the rest is in pages shared with live chunks, in thread-arena tops and in fastbins.`,
    hint: () => 'it comes back only as the chunks around it are freed; a trim now gains little. Fewer arenas (MALLOC_ARENA_MAX) keep less of it; see the other findings for where it sits.',
  }),
  'pinned-top': kind<{ arenas: { index: number; address: string | null; main: boolean; bytes: number }[]; trimThreshold: number }>()({
    title: 'free memory below a live chunk',
    message: (d) => `${mib(d.arenas.reduce((s, a) => s + a.bytes, 0))} is free below a live chunk in ${d.arenas.length} arena(s), which automatic trimming (threshold ${mib(d.trimThreshold)}) cannot return: arena ${d.arenas.map((a) => `${a.index}${a.main ? ' (main)' : ''}: ${mib(a.bytes)}`).join(', ')}.`,
    hint: () => 'free() only trims the top of a heap; a long-lived allocation made late keeps everything below it. malloc_trim releases the free pages in the middle; allocating long-lived objects early (or from a pool) avoids it.',
    // Arena numbers shift when an arena is created; addresses do not (diff matches arenas the same way).
    subject: (d) => d.arenas.map((a) => (a.main ? 'main' : a.address ?? `#${a.index}`)).join(','),
  }),
  'thread-top-resident': kind<{ arenas: number; bytes: number }>()({
    title: 'thread-arena top chunks stay resident',
    message: (d) => `${d.arenas} thread arena(s) keep ${mib(d.bytes)} of free top chunk resident; malloc_trim will not return it.`,
    hint: () => 'malloc_trim never shrinks a thread arena\'s top; only free() of a chunk >= 64 KiB does. Fewer arenas (MALLOC_ARENA_MAX) keeps less of this around.',
  }),
  'arena-count': kind<{ arenas: number; threads: number; cpus: number; defaultLimit: number; cap: number; savingBytes: number }>()({
    title: 'more arenas than the workload needs',
    message: (d) => `${d.arenas} arenas for ${d.threads} threads on ${d.cpus} CPUs (default limit ${d.defaultLimit}); capping at ${d.cap} could save up to ${mib(d.savingBytes)}: the free memory the other arenas keep resident. How much of it comes back depends on how the threads' peaks overlap.`,
    hint: (d) => `try MALLOC_ARENA_MAX=${d.cap} (or GLIBC_TUNABLES=glibc.malloc.arena_max=${d.cap}); measure it first with \`heapgap experiment --arena-max ${d.cap},default -- <command>\`.`,
  }),
  'mmap-chunks': kind<{ count: number; bytes: number; rss: number }>()({
    title: 'memory in mmapped chunks',
    message: (d) => `${d.count} mmapped chunks hold ${mib(d.bytes)} (${mib(d.rss)} resident).`,
    hint: () => 'chunks above the mmap threshold go straight back to the kernel on free(); this memory is live.',
  }),
  'no-top-figure': kind<Record<string, never>>()({
    title: 'this glibc does not report the top chunk',
    message: () => 'malloc_info from this glibc has no top-chunk figure.',
    hint: () => 'before glibc 2.31 malloc_info leaves the top chunk out, so in-use includes it: read inUseBytes as an upper bound.',
  }),
  'inferred-join': kind<Record<string, never>>()({
    title: 'arena heaps joined by inference',
    message: () => 'thread-arena heaps could not be confirmed from the target\'s memory.',
    hint: () => 'the arena ring could not be read from the target\'s memory, so single-heap arenas were matched to heap blocks by size and arenas of several heaps were left unjoined. Run heapgap with ptrace rights over the target (same user, root or CAP_SYS_PTRACE).',
  }),
  'trim-thread-tops': kind<{ bytes: number }>()({
    title: 'thread-arena tops are not trimmed',
    message: (d) => `${mib(d.bytes)} of free thread-arena top chunks stay resident whatever malloc_trim does.`,
    hint: () => 'malloc_trim madvises free chunks in bins but never shrinks a thread arena\'s top chunk; that memory returns only when a later free() trims it, or never. Fewer arenas keep less of it.',
  }),
  'trim-tcache': kind<Record<string, never>>()({
    title: 'tcache is invisible to trim',
    message: () => 'chunks cached in tcache are counted as in use and are not released by malloc_trim.',
    hint: () => 'up to 7 chunks per size class per thread sit in tcache, counted as in use by malloc_info and never released by malloc_trim; GLIBC_TUNABLES=glibc.malloc.tcache_count=0 removes them at some speed cost.',
  }),
  'trim-brk-pinned': kind<{ bytes: number }>()({
    title: 'the main heap cannot shrink below a live chunk',
    message: (d) => `the main heap has ${mib(d.bytes)} free below a live chunk: trim releases those pages but the [heap] mapping keeps its size.`,
    hint: () => 'brk only moves down to the highest live chunk; the free pages below it were released with madvise, so Rss dropped but the [heap] mapping stayed as large.',
  }),
};
