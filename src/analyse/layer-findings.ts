import type { FindingReport, InspectReport, Severity } from '../types.js';
import type { RuntimeRegion } from '../runtimes/types.js';

/** The runtime and kernel layers' findings, with the words users see (one registry). */
export const LAYER_FINDINGS = {
  'lazy-free': { title: 'Rss includes lazily freed pages', hint: 'these pages were released with MADV_FREE: the kernel takes them back as soon as memory is short, so they are not a leak and not counted by the cgroup once reclaimed. Judge the process by rss.uss minus LazyFree; an allocator that must show the drop at once can use MADV_DONTNEED instead (jemalloc muzzy_decay_ms:0, Go GODEBUG=madvdontneed=1).' },
  'thp-in-arenas': { title: 'transparent huge pages in malloc heaps', hint: 'a huge page is released only whole, and khugepaged may refill what a trim released: compare `heapgap trim PID --settle 30s`. With THP `always`, setting it to `madvise` (or GLIBC_TUNABLES=glibc.malloc.hugetlb=0 where it was enabled) keeps the heaps in small pages.' },
  'swapped-arena': { title: 'malloc heap pages are in swap', hint: 'free memory that was swapped out costs swap, not Rss: a trim lowers Swap, and Rss stays. It is memory nobody touched for a while; it is read back only when used.' },
  'cgroup-headroom': { title: 'the memory cgroup is close to its limit', hint: 'near the limit the kernel reclaims page cache first, then the OOM killer acts. Anonymous memory (anonBytes) is what counts; file pages can be reclaimed. Raise the limit or lower the process\'s anonymous memory (see the layers above).' },
  'jvm-heap-free': { title: 'the Java heap holds resident memory it does not use', hint: 'the JVM keeps committed heap after GC. Cap it with -Xmx; let G1 give it back with -XX:G1PeriodicGCInterval=<ms> (JDK 12+) and -XX:MaxHeapFreeRatio=<n> / -XX:MinHeapFreeRatio=<n>; or check with `jcmd PID GC.heap_info`.' },
  'jvm-metaspace': { title: 'metaspace holds a lot of memory', hint: 'class metadata grows with loaded classes (class loader leaks show here). Cap it with -XX:MaxMetaspaceSize and the class space with -XX:CompressedClassSpaceSize; `jcmd PID VM.metaspace` breaks it down.' },
  'jvm-code-cache': { title: 'the code cache holds a lot of memory', hint: 'compiled code stays until it is flushed; -XX:ReservedCodeCacheSize caps it, `jcmd PID Compiler.CodeHeap_Analytics` shows what is in it.' },
  'jvm-native-trim': { title: 'a JVM over glibc malloc holds free native memory', hint: 'the JVM can trim glibc itself: `jcmd PID System.trim_native_heap` (17.0.15+, 21.0.1+) or periodically with -XX:TrimNativeHeapInterval=<ms>; MALLOC_ARENA_MAX=2 keeps fewer arenas.' },
  'v8-heap': { title: 'the V8 heap holds a lot of memory', hint: 'V8 grows its old space up to --max-old-space-size (MiB) and keeps pages after GC while under it; --max-semi-space-size (MiB) bounds the young generation. `v8.getHeapStatistics()` in the process gives its own figures.' },
  'python-obmalloc': { title: 'CPython\'s small-object arenas hold memory', hint: 'obmalloc returns an arena to the system only when every object in it is freed, so a few survivors keep whole 1 MiB arenas resident. `sys._debugmallocstats()` shows arenas and free blocks; PYTHONMALLOC=malloc hands small objects to malloc instead (trimmable, a little slower).' },
} as const satisfies Record<string, { title: string; hint: string }>;

export type LayerFindingKind = keyof typeof LAYER_FINDINGS;

const MIB = 1024 * 1024;
const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function f(kind: LayerFindingKind, severity: Severity, bytes: number | null, message: string, pid: number): FindingReport {
  return { kind, severity, bytes, message, hint: LAYER_FINDINGS[kind].hint.replaceAll('PID', String(pid)) };
}

const bySize = (share: number, bytes: number): Severity => (share >= 0.25 && bytes >= 64 * MIB ? 'warn' : 'info');

export function layerFindings(r: InspectReport): FindingReport[] {
  const out: FindingReport[] = [];
  const pid = r.target.pid;
  const rss = Math.max(1, r.rss.total);
  const lazy = r.rss.lazyFree ?? 0;
  if (lazy >= MIB) out.push(f('lazy-free', bySize(lazy / rss, lazy), lazy, `${mib(lazy)} of Rss (${pct(lazy / rss)}) is LazyFree: freed with MADV_FREE, still counted until the kernel reclaims it. Without it the process holds ${mib(r.rss.total - lazy)}.`, pid));
  const arenaRows = r.breakdown.filter((b) => b.category === 'arena' || b.category === 'mmap-chunk');
  const thp = arenaRows.reduce((s, b) => s + (b.anonHugePagesBytes ?? 0), 0);
  if (thp >= 2 * MIB) out.push(f('thp-in-arenas', 'info', thp, `${mib(thp)} of malloc's memory is in transparent huge pages.`, pid));
  const swapped = arenaRows.reduce((s, b) => s + (b.swapBytes ?? 0), 0);
  if (swapped >= MIB) out.push(f('swapped-arena', 'info', swapped, `${mib(swapped)} of malloc's heap pages are swapped out.`, pid));
  const cg = r.cgroup;
  if (cg && cg.limitBytes !== null && cg.limitBytes > 0) {
    const used = cg.currentBytes / cg.limitBytes;
    if (used >= 0.8) out.push(f('cgroup-headroom', used >= 0.95 ? 'critical' : 'warn', cg.headroomBytes, `the memory cgroup ${cg.path} uses ${mib(cg.currentBytes)} of its ${mib(cg.limitBytes)} limit (${pct(used)}; anon ${mib(cg.anonBytes)}, file ${mib(cg.fileBytes)}): ${mib(cg.headroomBytes ?? 0)} left.`, pid));
  }
  for (const rt of r.runtimes ?? []) {
    const region = (name: string): RuntimeRegion | undefined => rt.regions.find((x) => x.name === name);
    const total = (cat: string) => rt.regions.filter((x) => x.category === cat).reduce((s, x) => s + x.rss, 0);
    if (rt.runtime === 'jvm') {
      const heap = region('java heap');
      if (heap && heap.usedBytes !== null) {
        const idle = heap.rss - heap.usedBytes;
        if (idle >= 32 * MIB && idle >= 0.3 * heap.rss) out.push(f('jvm-heap-free', bySize(idle / rss, idle), idle, `the Java heap is ${mib(heap.rss)} resident but holds ${mib(heap.usedBytes)} of objects (committed ${mib(heap.committedBytes ?? 0)}, max ${mib(heap.maxBytes ?? 0)}).`, pid));
      }
      const meta = total('jvm-metaspace');
      if (meta >= 128 * MIB) out.push(f('jvm-metaspace', bySize(meta / rss, meta), meta, `metaspace and class space hold ${mib(meta)} resident.`, pid));
      const code = total('jvm-code-cache');
      if (code >= 64 * MIB) out.push(f('jvm-code-cache', 'info', code, `the code cache holds ${mib(code)} resident.`, pid));
      const held = r.totals.heldFreeRssBytes;
      if (r.target.allocator === 'glibc' && held >= 16 * MIB) out.push(f('jvm-native-trim', bySize(held / rss, held), held, `glibc malloc holds ${mib(held)} free in this JVM (native memory: threads, NIO, JNI, the JVM itself).`, pid));
    } else if (rt.runtime === 'v8') {
      const v8 = total('v8-heap');
      if (v8 >= 64 * MIB) out.push(f('v8-heap', bySize(v8 / rss, v8), v8, `V8's pages hold ${mib(v8)} resident (${pct(v8 / rss)} of Rss).`, pid));
    } else if (rt.runtime === 'cpython') {
      const ob = total('python-obmalloc');
      const arenas = rt.regions.find((x) => x.category === 'python-obmalloc');
      if (ob >= 16 * MIB && arenas) out.push(f('python-obmalloc', bySize(ob / rss, ob), ob, `${arenas.size / MIB} obmalloc arenas hold ${mib(ob)} resident.`, pid));
    }
  }
  return out;
}
