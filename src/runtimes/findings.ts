/** The runtimes' findings, with each runtime's own remedies (the registry in analyse/findings lists them). */
import { kind } from '../analyse/findings/spec.js';
import { mib, pct } from '../units.js';

export const RUNTIME_FINDINGS = {
  'jvm-heap-free': kind<{ rssBytes: number; usedBytes: number; committedBytes: number; maxBytes: number; pid: number }>()({
    title: 'the Java heap holds resident memory it does not use',
    message: (d) => `the Java heap is ${mib(d.rssBytes)} resident but holds ${mib(d.usedBytes)} of objects (committed ${mib(d.committedBytes)}, max ${mib(d.maxBytes)}).`,
    hint: (d) => `the JVM keeps committed heap after GC. Cap it with -Xmx; let G1 give it back with -XX:G1PeriodicGCInterval=<ms> (JDK 12+) and -XX:MaxHeapFreeRatio=<n> / -XX:MinHeapFreeRatio=<n>; \`jcmd ${d.pid} GC.heap_info\` shows it.`,
  }),
  'jvm-metaspace': kind<{ bytes: number; pid: number }>()({
    title: 'metaspace holds a lot of memory',
    message: (d) => `metaspace and class space hold ${mib(d.bytes)} resident.`,
    hint: (d) => `class metadata grows with loaded classes (class loader leaks show here). Cap it with -XX:MaxMetaspaceSize and the class space with -XX:CompressedClassSpaceSize; \`jcmd ${d.pid} VM.metaspace\` breaks it down.`,
  }),
  'jvm-code-cache': kind<{ bytes: number; pid: number }>()({
    title: 'the code cache holds a lot of memory',
    message: (d) => `the code cache holds ${mib(d.bytes)} resident.`,
    hint: (d) => `compiled code stays until it is flushed; -XX:ReservedCodeCacheSize caps it, \`jcmd ${d.pid} Compiler.CodeHeap_Analytics\` shows what is in it.`,
  }),
  'jvm-native-trim': kind<{ bytes: number; pid: number }>()({
    title: 'a JVM over glibc malloc holds free native memory',
    message: (d) => `glibc malloc holds ${mib(d.bytes)} free in this JVM (native memory: threads, NIO, JNI, the JVM itself).`,
    hint: (d) => `the JVM can trim glibc itself: \`jcmd ${d.pid} System.trim_native_heap\` (17.0.15+, 21.0.1+) or periodically with -XX:TrimNativeHeapInterval=<ms>; MALLOC_ARENA_MAX=2 keeps fewer arenas.`,
  }),
  'v8-heap': kind<{ bytes: number; share: number }>()({
    title: 'the V8 heap holds a lot of memory',
    message: (d) => `V8's pages hold ${mib(d.bytes)} resident (${pct(d.share)} of Rss).`,
    hint: () => 'V8 grows its old space up to --max-old-space-size (MiB) and keeps pages after GC while under it; --max-semi-space-size (MiB) bounds the young generation. `v8.getHeapStatistics()` in the process gives its own figures.',
  }),
  'python-obmalloc': kind<{ bytes: number; arenas: number }>()({
    title: 'CPython\'s small-object arenas hold memory',
    message: (d) => `${d.arenas} obmalloc arenas hold ${mib(d.bytes)} resident.`,
    hint: () => 'obmalloc returns an arena to the system only when every object in it is freed, so a few survivors keep whole arenas resident. `sys._debugmallocstats()` shows arenas and free blocks; PYTHONMALLOC=malloc hands small objects to malloc instead (trimmable, a little slower).',
  }),
} as const;
