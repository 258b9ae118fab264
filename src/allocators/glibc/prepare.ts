/**
 * glibc malloc, collect side. Before attach: the heap candidates, struct offsets and function
 * addresses stop.py needs. After detach: the ranges glibc owns and what a trim would release.
 */
import { readOptional } from '../../collect/procfs.js';
import { tunable } from '../../parse/environ.js';
import { hex } from '../../units.js';
import type { Collector, Measured, Prepared, Target } from '../types.js';
import { arenaClaims, mmapChunkClaims, verifiedHeaps } from './claims.js';
import { heapCheckOf } from './heap-check.js';
import type { RawCheck } from './heap-check.js';
import { measureGlibc } from './measure.js';
import { DEFAULT_HEAP_MAX, PAGE, layoutFor, versionAtLeast } from './layout.js';
import type { GlibcLayout, GlibcSection } from './section.js';
import { stopScript } from '../common.js';

const STOP_PY = stopScript('glibc');
/** What stop.py calls: the two allocator functions, and syscall (futex wake when releasing a lock). */
const CALLS = ['malloc_info', 'malloc_trim', 'syscall'];
/**
 * Chunks the check inside the stop may visit when it walks every list itself (the walk before attach
 * found something wrong, or was not made). About 10 us each here (a page read per free chunk on a
 * fragmented heap): 200,000 is about 2 s in the worst case. Past it, inspect calls malloc_info anyway
 * (bounded by the failure path), and trim refuses. HEAPGAP_HEAP_CHECK_STEPS changes it;
 * HEAPGAP_SKIP_HEAP_CHECK=1 turns the check off (the tests use it to reach the failure path on purpose).
 */
const HEAP_CHECK_STEPS = 200_000;
/** Milliseconds of the stop the free-list walk may take (each time) when the walk before attach found nothing wrong. */
const HEAP_CHECK_STOP_MS = 5;
/**
 * Milliseconds the walk before attach may take for inspect (cut by time, the check is incomplete).
 * Before a trim it may take the time the rest of the session does not need (stop.py): malloc_trim is
 * only called on a heap whose every list that walk reached.
 */
const HEAP_CHECK_BEFORE_MS = 5_000;
/** Chunks the walk before attach may visit (about 10 us each; the process runs meanwhile). */
const HEAP_CHECK_BEFORE_STEPS = 50_000_000;

export const glibcCollector: Collector<GlibcSection> = {
  name: 'glibc',
  async prepare(t: Target): Promise<Prepared<GlibcSection>> {
    const { image, base } = t.libc;
    const heapMax = await heapMaxFor(image.version, t.env);
    // Anonymous VMAs aligned like a thread-arena heap: where heap_info blocks may start.
    const candidates = t.maps.filter((v) => v.pathname === '' && v.start % BigInt(heapMax) === 0n).map((v) => v.start);
    const addr: Record<string, string> = {};
    for (const name of CALLS) {
      const sym = image.symbols.get(name);
      if (sym) addr[name] = hex(base + sym.value);
    }
    const layout = layoutFor(image.version, heapMax);
    const rw = image.segments.find((seg) => seg.flags & 2);
    const heapCheck = {
      steps: Number(process.env.HEAPGAP_HEAP_CHECK_STEPS) || HEAP_CHECK_STEPS,
      // the walk's share of the stop when a walk before attach covered every list (0: walk all in the stop)
      stopMs: process.env.HEAPGAP_HEAP_CHECK_STOP_MS !== undefined ? Number(process.env.HEAPGAP_HEAP_CHECK_STOP_MS) : HEAP_CHECK_STOP_MS,
      // the walk before attach: at most this long (a busy machine gives gdb little CPU)
      beforeMs: Number(process.env.HEAPGAP_HEAP_CHECK_BEFORE_MS) || HEAP_CHECK_BEFORE_MS,
      beforeSteps: Number(process.env.HEAPGAP_HEAP_CHECK_BEFORE_STEPS) || HEAP_CHECK_BEFORE_STEPS,
      skip: process.env.HEAPGAP_SKIP_HEAP_CHECK === '1',
      // glibc 2.32+ masks fastbin links (safe-linking)
      safeLinking: versionAtLeast(image.version, 2, 32),
      pageSize: PAGE,
      pid: t.pid,
      // where main_arena is, in a process with one arena: libc's writable data
      libcData: rw ? [hex(base + rw.vaddr), hex(base + rw.vaddr + BigInt(rw.memsz))] : [hex(base), hex(base)],
      // the brk heap as maps showed it (the stop reads maps again before calling anything corrupt)
      mainRanges: t.maps.filter((v) => v.pathname === '[heap]').map((v) => [hex(v.start), hex(v.end)]),
    };
    return {
      plan: {
        name: 'glibc',
        calls: 'malloc_info',
        script: STOP_PY,
        params: { addr, layout, heapCandidates: candidates.map(hex), heapCheck },
        forbiddenRanges: [],
      },
      notes: [],
      async measure(raw: unknown, m: Measured): Promise<GlibcSection> {
        // Only blocks whose heap_info checks out are heaps: an aligned mapping of the program's is not.
        const glibcClaims = async (mm: Measured, arenas: GlibcLayout['arenas']) => {
          const heaps = await verifiedHeaps(candidates, heapMax, mm.memory);
          return [...(await arenaClaims(mm.vmas, arenas, heaps, heapMax, mm.memory)), ...(await mmapChunkClaims(mm.vmas, heaps, heapMax, mm.memory))];
        };
        const stop = raw as { mallocInfo?: string; layout?: GlibcLayout; check?: RawCheck };
        const check = stop.check && !stop.check.skipped ? heapCheckOf(stop.check) : undefined;
        if (stop.mallocInfo === undefined) {
          // No call was made (the check found the heap corrupt): the ring as the check walked it.
          const layout: GlibcLayout = { arenas: (check?.arenas ?? []).map((a) => ({ index: a.index, address: a.address, systemMem: a.systemMem, top: a.top ?? '0x0', heaps: a.heaps })), note: null };
          const claims = await glibcClaims(m, layout.arenas);
          return { heapMax, mallocInfo: null, layout, claims, ...(check ? { heapCheck: check } : {}) };
        }
        if (!stop.layout) throw new Error('stop.py returned malloc_info without the arena ring');
        const claims = await glibcClaims(m, stop.layout.arenas);
        // mp_, then one walk of every arena: pinning chunks, page map and the trim prediction.
        const internals = await measureGlibc({ memory: m.memory, vmas: m.vmas, arenas: stop.layout.arenas, mallocInfo: stop.mallocInfo, libcBase: base, image, offsets: layout, pad: m.pad });
        // After a trim the walk sees the heap as the trim left it: no prediction from it then.
        const trimmable = m.mode === 'inspect' ? internals.arenas.map((a) => ({ index: a.index, residentBytes: a.trimmableBytes, chunks: a.trimmableChunks, complete: a.complete })) : [];
        return { heapMax, mallocInfo: stop.mallocInfo, layout: stop.layout, claims, ...(trimmable.length > 0 ? { trimmable } : {}), internals, ...(check ? { heapCheck: check } : {}) };
      },
    };
  },
};

/** HEAP_MAX_SIZE: 64 MiB on 64-bit, or 4 x the huge page size with glibc.malloc.hugetlb >= 2 (2.35+). */
export async function heapMaxFor(version: string | null, env: Record<string, string>): Promise<number> {
  const hugetlb = tunable(env, 'hugetlb');
  if (hugetlb !== null && hugetlb >= 2 && versionAtLeast(version, 2, 35)) {
    const meminfo = (await readOptional('/proc/meminfo')) ?? '';
    const kb = /^Hugepagesize:\s+(\d+) kB/m.exec(meminfo)?.[1];
    if (kb) return Math.max(DEFAULT_HEAP_MAX, 4 * Number(kb) * 1024);
  }
  return DEFAULT_HEAP_MAX;
}
