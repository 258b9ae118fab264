/** glibc malloc's findings: their words (the registry in analyse/findings lists them) and when they fire. */
import { kind } from '../../analyse/findings/spec.js';
import { mib, pct } from '../../units.js';
import type { HeapProblem } from './section.js';

type ThresholdSource = 'memory' | 'environment' | 'default';
/** "trim threshold 8.0 MiB", saying when it was assumed rather than read from the process. */
const threshold = (name: string, bytes: number, source?: ThresholdSource): string =>
  `${name} ${mib(bytes)}${source === 'default' ? ", glibc's default, assumed" : source === 'environment' ? ', from the environment' : ''}`;
const size = (n: number): string => (n >= 1048576 ? mib(n) : `${(n / 1024).toFixed(1)} KiB`);

export const GLIBC_FINDINGS = {
  'heap-corrupt': kind<{ pid: number; problems: HeapProblem[] }>()({
    title: 'the heap is corrupt',
    message: (d) => `malloc's free lists are corrupt: ${d.problems.map((p) => p.text).join('; ')}. heapgap made no call into malloc (malloc_info and malloc_trim would have aborted or looped holding the arena lock); the figures come from walking the lists from outside.`,
    hint: (d) => `a use-after-free or double free in the program wrote into freed memory (${d.problems[0]?.chunk ?? 'see above'}); the process runs on until it uses that list, then glibc aborts it or it loops. Find the write with AddressSanitizer or valgrind, or run it with GLIBC_TUNABLES=glibc.malloc.check=3. Process ${d.pid} was left running, untouched.`,
    subject: (d) => d.problems.map((p) => `${p.arenaAddress}:${p.list}:${p.bin}:${p.chunk}`).join(','),
  }),
  'heap-check-incomplete': kind<{ steps: number; ms: number }>()({
    title: 'the free lists were checked in part',
    message: (d) => `heapgap checks malloc's free lists before calling into them; this heap has more free chunks than it walks in one stop (${d.steps}), so the rest went unchecked (${d.ms.toFixed(0)} ms spent).`,
    hint: () => 'malloc_info was called anyway: a corrupt list it met would be stopped and its arena lock given back. malloc_trim is only called on a heap checked whole; HEAPGAP_HEAP_CHECK_STEPS raises the limit (the process stays stopped longer).',
  }),
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
  'pinned-top': kind<{ arenas: { index: number; address: string | null; main: boolean; bytes: number; pin?: { address: string; size: number }; more?: number }[]; trimThreshold: number; source?: ThresholdSource; resident?: boolean }>()({
    title: 'free memory below a live chunk',
    message: (d) => `${mib(d.arenas.reduce((s, a) => s + a.bytes, 0))}${d.resident ? ' of resident memory' : ''} is free below a live chunk in ${d.arenas.length} arena(s), which automatic trimming (${threshold('trim threshold', d.trimThreshold, d.source)}) cannot return: arena ${d.arenas.map((a) => `${a.index}${a.main ? ' (main)' : ''}: ${mib(a.bytes)}${a.pin ? ` below ${a.pin.address} (${size(a.pin.size)}${a.more ? ` and ${a.more} more live chunk(s)` : ''})` : ''}`).join(', ')}.`,
    hint: () => 'free() only trims the top of a heap; a long-lived allocation made late keeps everything below it. malloc_trim releases the free pages in the middle; allocating long-lived objects early (or from a pool) avoids it.',
    // Arena numbers shift when an arena is created; addresses do not (diff matches arenas the same way).
    subject: (d) => d.arenas.map((a) => (a.main ? 'main' : a.address ?? `#${a.index}`)).join(','),
  }),
  'thread-top-resident': kind<{ arenas: number; bytes: number; trimThreshold?: number; source?: ThresholdSource }>()({
    title: 'thread-arena top chunks stay resident',
    message: (d) => `${d.arenas} thread arena(s) keep ${mib(d.bytes)} of free top chunk resident${d.trimThreshold === undefined ? '' : ` (tops above the ${threshold('trim threshold', d.trimThreshold, d.source)})`}; malloc_trim will not return it.`,
    hint: () => 'malloc_trim never shrinks a thread arena\'s top; only free() of a chunk >= 64 KiB does. Fewer arenas (MALLOC_ARENA_MAX) keeps less of this around.',
  }),
  'arena-count': kind<{ arenas: number; threads: number; cpus: number; defaultLimit: number; cap: number; savingBytes: number }>()({
    title: 'more arenas than the workload needs',
    message: (d) => `${d.arenas} arenas for ${d.threads} threads on ${d.cpus} CPUs (default limit ${d.defaultLimit}); capping at ${d.cap} could save up to ${mib(d.savingBytes)}: the free memory the other arenas keep resident. How much of it comes back depends on how the threads' peaks overlap.`,
    hint: (d) => `try MALLOC_ARENA_MAX=${d.cap} (or GLIBC_TUNABLES=glibc.malloc.arena_max=${d.cap}); measure it first with \`heapgap experiment --arena-max ${d.cap},default -- <command>\`.`,
  }),
  'mmap-chunks': kind<{ count: number; bytes: number; rss: number; mmapThreshold?: number; source?: ThresholdSource }>()({
    title: 'memory in mmapped chunks',
    message: (d) => `${d.count} mmapped chunks hold ${mib(d.bytes)} (${mib(d.rss)} resident)${d.mmapThreshold === undefined ? '' : `; requests from the ${threshold('mmap threshold', d.mmapThreshold, d.source)} up are mmapped`}.`,
    hint: () => 'chunks above the mmap threshold go straight back to the kernel on free(); this memory is live.',
  }),
  'mmap-threshold-raised': kind<{ mmapThreshold: number; trimThreshold: number }>()({
    title: "glibc's dynamic mmap threshold was raised",
    message: (d) => `glibc raised its mmap threshold from 128 KiB to ${mib(d.mmapThreshold)} (${d.mmapThreshold} bytes), the size of an mmapped chunk the program freed, and its trim threshold to ${mib(d.trimThreshold)} (${d.trimThreshold} bytes): requests up to that size now come from the heaps instead of mmap and stay there when freed, and a heap top below the trim threshold is never given back.`,
    hint: () => 'fix the threshold so free() cannot move it: MALLOC_MMAP_THRESHOLD_=131072 (or GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072); large buffers then go back to the kernel on free(). Any fixed value stops the raising; choose a larger one if the program makes many large short-lived allocations.',
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
  'trim-brk-pinned': kind<{ bytes: number; pin?: { address: string; size: number } }>()({
    title: 'the main heap cannot shrink below a live chunk',
    message: (d) => `the main heap has ${mib(d.bytes)} free below a live chunk${d.pin ? ` (${d.pin.address}, ${d.pin.size} bytes)` : ''}: trim releases those pages but the [heap] mapping keeps its size.`,
    hint: () => 'brk only moves down to the highest live chunk; the free pages below it were released with madvise, so Rss dropped but the [heap] mapping stayed as large.',
  }),
};
