/** The kernel layer's findings: their words (the registry in analyse/findings lists them). */
import { kind } from '../analyse/findings/spec.js';
import { mib, pct } from '../units.js';

export const KERNEL_FINDINGS = {
  'lazy-free': kind<{ lazyFreeBytes: number; share: number; rssBytes: number }>()({
    title: 'Rss includes lazily freed pages',
    message: (d) => `${mib(d.lazyFreeBytes)} of Rss (${pct(d.share)}) is LazyFree: freed with MADV_FREE, still counted until the kernel reclaims it. Without it the process holds ${mib(d.rssBytes - d.lazyFreeBytes)}.`,
    hint: () => 'these pages were released with MADV_FREE: the kernel takes them back as soon as memory is short, so they are not a leak. Judge the process by its Rss minus LazyFree; an allocator that must show the drop at once can use MADV_DONTNEED instead (jemalloc muzzy_decay_ms:0, Go GODEBUG=madvdontneed=1).',
  }),
  'thp-in-arenas': kind<{ bytes: number; pid: number }>()({
    title: 'transparent huge pages in malloc heaps',
    message: (d) => `${mib(d.bytes)} of malloc's memory is in transparent huge pages.`,
    hint: (d) => `a huge page is released only whole, and khugepaged may refill what a trim released: compare \`heapgap trim ${d.pid} --settle 30s\`. With THP \`always\`, setting it to \`madvise\` (or GLIBC_TUNABLES=glibc.malloc.hugetlb=0 where it was enabled) keeps the heaps in small pages.`,
  }),
  'swapped-arena': kind<{ bytes: number }>()({
    title: 'malloc heap pages are in swap',
    message: (d) => `${mib(d.bytes)} of malloc's heap pages are swapped out.`,
    hint: () => 'free memory that was swapped out costs swap, not Rss: a trim lowers Swap, and Rss stays. It is memory nobody touched for a while; it is read back only when used.',
  }),
  'cgroup-headroom': kind<{ path: string; currentBytes: number; limitBytes: number; anonBytes: number; fileBytes: number; headroomBytes: number }>()({
    title: 'the memory cgroup is close to its limit',
    message: (d) => `the memory cgroup ${d.path} uses ${mib(d.currentBytes)} of its ${mib(d.limitBytes)} limit (${pct(d.currentBytes / d.limitBytes)}; anon ${mib(d.anonBytes)}, file ${mib(d.fileBytes)}): ${mib(d.headroomBytes)} left.`,
    hint: () => 'near the limit the kernel reclaims page cache first, then the OOM killer acts. Anonymous memory is what counts; file pages can be reclaimed. Raise the limit or lower the process\'s anonymous memory (see the layers above).',
    subject: (d) => d.path,
  }),
} as const;
