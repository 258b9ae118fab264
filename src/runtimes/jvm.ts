import type { Vma } from '../types.js';
import { claimSpan, indicesOf, measure, overlaps, parseSize, reservations, spanBytes } from './ranges.js';
import { parseVmInfo } from './jvm/vm-info.js';
import type { Span } from './ranges.js';
import type { RuntimeAnalysis, RuntimeClaim, RuntimeInput, RuntimeRegion } from './types.js';

const MIB = 1024 * 1024;
const page = (n: number) => Math.floor(n / 4096) * 4096;
// JDK 17 reserves non-class metaspace in nodes of 16 root chunks of 4 MiB.
const METASPACE_NODE = 64n * BigInt(MIB);
const JSA = /\/classes(_nocoops)?\.jsa$/;

/**
 * HotSpot: the Java heap, compressed class space + metaspace nodes, the code cache, and the rest
 * of the JVM's own anonymous mappings. Ranges come from the mappings' shapes, sized by what the
 * JVM publishes in hsperfdata (max heap, class space size, metaspace reserve) or by its flags.
 */
export function recogniseJvm(input: RuntimeInput): RuntimeAnalysis | null {
  const { vmas, base, facts } = input;
  const lib = vmas.find((v) => /\/libjvm\.so$/.test(v.pathname));
  if (!lib) return null;
  const c = facts?.hsperfdata?.counters ?? {};
  const n = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : null);
  const flags = jvmFlags(facts?.cmdline ?? [], typeof c['java.rt.vmArgs'] === 'string' ? (c['java.rt.vmArgs'] as string) : '');
  const notes: string[] = [];
  if (facts?.hsperfdata) notes.push(`figures from ${facts.hsperfdata.path}; the JVM refreshes its metaspace counters at each GC`);
  if (!facts?.hsperfdata) notes.push(facts?.hsperfdataNote ?? 'no hsperfdata (the capture predates it, or -XX:-UsePerfData): ranges from the JVM flags and mapping shapes only, no used/committed figures');
  const anon = (i: number) => vmas[i]!.pathname === '' && (base[i] === 'anon-other' || base[i] === 'stack');
  const taken: Span[] = [];
  const free = (s: Span) => !taken.some((t) => overlaps(s, t));
  const regions: RuntimeRegion[] = [];
  const claims: RuntimeClaim[] = [];
  const add = (s: Span, region: RuntimeRegion) => {
    taken.push(s);
    regions.push(region);
    claims.push(...claimSpan(vmas, s, region.category));
  };

  // With --jvm-jcmd the JVM said where its ranges are; they take precedence over the shapes below.
  const said = facts?.jcmdVmInfo ? parseVmInfo(facts.jcmdVmInfo) : null;
  const exact = (range: [bigint, bigint] | null | undefined): Span | null => {
    if (!range) return null;
    const from = vmas.findIndex((v) => v.start >= range[0]);
    let to = from;
    while (to >= 0 && to < vmas.length && vmas[to]!.end <= range[1]) to++;
    return from >= 0 && to > from && vmas[from]!.start === range[0] && vmas[to - 1]!.end === range[1] ? { from, to } : null;
  };
  if (said) notes.push('ranges from `jcmd VM.info` (--jvm-jcmd)');

  // Java heap: one reservation of MaxHeapSize; archived heap regions of the CDS file sit inside it.
  const gens = spaces(c);
  const policy = String(c['sun.gc.policy.name'] ?? '');
  const maxHeap = heapMax(gens, policy, n) ?? flags.maxHeap;
  const committed = gens.length ? gens.reduce((s, g) => s + page(g.capacity), 0) : null;
  const used = gens.length ? gens.reduce((s, g) => s + g.used, 0) : null;
  const saidHeap = exact(said?.heap);
  if (saidHeap) add(saidHeap, measure(vmas, indicesOf(saidHeap), 'java heap', 'jvm-heap', { committedBytes: committed, usedBytes: used, maxBytes: Number(said!.heap![1] - said!.heap![0]), source: 'jcmd VM.info + hsperfdata' }));
  else if (maxHeap) {
    const inHeap = (i: number) => anon(i) || (base[i] === 'file' && JSA.test(vmas[i]!.pathname));
    const span = best(reservations(vmas, BigInt(maxHeap), inHeap, BigInt(MIB)).filter(free), vmas, committed);
    if (span) add(span, measure(vmas, indicesOf(span), 'java heap', 'jvm-heap', { committedBytes: committed, usedBytes: used, maxBytes: maxHeap, source: committed === null ? '-Xmx' : `hsperfdata (${policy || 'gc'} spaces)` }));
    else notes.push(`no mapping of the java heap's reserved size (${maxHeap} bytes) was found`);
  } else {
    // Without a size: with compressed oops (heaps below 32 GiB, the default) HotSpot places the heap
    // below the 32 GiB line, where nothing else maps anonymous memory.
    const span = lowReservation(vmas, (i) => anon(i) || (base[i] === 'file' && JSA.test(vmas[i]!.pathname)));
    if (span) add(span, measure(vmas, indicesOf(span), 'java heap', 'jvm-heap', { source: 'mapping shape (compressed-oops heap below 32 GiB)' }));
    else notes.push('the java heap size is unknown (no hsperfdata, no -Xmx): heap memory is counted as jvm-other');
  }

  // Compressed class space: one reservation of CompressedClassSpaceSize.
  const ccsMax = n('sun.gc.compressedclassspace.maxCapacity') ?? flags.classSpace;
  const ccsCommitted = n('sun.gc.compressedclassspace.capacity');
  const ccs = exact(said?.classSpace) ?? (ccsMax ? best(reservations(vmas, BigInt(ccsMax), anon).filter(free), vmas, ccsCommitted) : null);
  if (ccs) add(ccs, measure(vmas, indicesOf(ccs), 'compressed class space', 'jvm-metaspace', { committedBytes: ccsCommitted, usedBytes: n('sun.gc.compressedclassspace.used'), maxBytes: ccsMax, source: ccsCommitted === null ? null : 'hsperfdata sun.gc.compressedclassspace' }));

  // Non-class metaspace: nodes of 64 MiB, as many as the reserve the JVM reports (else any).
  const msMax = n('sun.gc.metaspace.maxCapacity');
  const nodes = msMax !== null ? Math.max(0, Math.round((msMax - (ccsMax ?? 0)) / Number(METASPACE_NODE))) : Infinity;
  const nodeSpans: Span[] = [];
  for (const s of reservations(vmas, METASPACE_NODE, anon, 4n * BigInt(MIB))) {
    if (nodeSpans.length >= nodes || !free(s) || !metaspaceShape(vmas, s)) continue;
    nodeSpans.push(s);
    taken.push(s);
  }
  if (nodeSpans.length > 0) {
    const msCommitted = n('sun.gc.metaspace.capacity');
    const msUsed = n('sun.gc.metaspace.used');
    regions.push(measure(vmas, nodeSpans.flatMap(indicesOf), 'metaspace', 'jvm-metaspace', {
      committedBytes: msCommitted === null ? null : msCommitted - (ccsCommitted ?? 0),
      usedBytes: msUsed === null ? null : msUsed - (n('sun.gc.compressedclassspace.used') ?? 0),
      maxBytes: msMax === null ? null : msMax - (ccsMax ?? 0),
      source: msCommitted === null ? null : 'hsperfdata sun.gc.metaspace minus class space',
    }));
    for (const s of nodeSpans) claims.push(...claimSpan(vmas, s, 'jvm-metaspace'));
  }

  // Code cache: the JIT's anonymous rwx mappings and the reserve around them.
  const saidCode = said && said.codeHeaps.length > 0 ? exact([said.codeHeaps.reduce((a, h) => (h[0] < a ? h[0] : a), said.codeHeaps[0]![0]), said.codeHeaps.reduce((a, h) => (h[1] > a ? h[1] : a), 0n)]) : null;
  const code = saidCode ?? codeCache(vmas, anon, flags.codeCache ?? 240 * MIB);
  if (code && free(code)) add(code, measure(vmas, indicesOf(code), 'code cache', 'jvm-code-cache', { maxBytes: Number(vmas[code.to - 1]!.end - vmas[code.from]!.start), source: null }));

  // Everything else anonymous outside malloc: GC remembered sets, card table, mark bitmaps, JVM internals.
  const other: number[] = [];
  vmas.forEach((_, i) => {
    if (base[i] === 'anon-other' && vmas[i]!.pathname === '' && free({ from: i, to: i + 1 })) other.push(i);
  });
  if (other.length > 0) {
    regions.push(measure(vmas, other, 'other JVM mappings (GC structures, internals)', 'jvm-other', { source: 'by elimination: anonymous mappings outside malloc in a JVM' }));
    for (const i of other) claims.push({ start: vmas[i]!.start, end: vmas[i]!.end, category: 'jvm-other', rss: vmas[i]!.rss });
  }
  const version = typeof c['java.property.java.vm.version'] === 'string' ? (c['java.property.java.vm.version'] as string) : versionOf(String(c['sun.rt.internalVersion'] ?? ''));
  return { report: { runtime: 'jvm', evidence: lib.pathname, version, regions, notes }, claims, findings: [] };
}

interface SpaceFigures {
  gen: number;
  capacity: number;
  used: number;
  max: number;
}

function spaces(c: Record<string, number | string>): SpaceFigures[] {
  const out: SpaceFigures[] = [];
  for (const key of Object.keys(c)) {
    const m = /^sun\.gc\.generation\.(\d+)\.space\.(\d+)\.capacity$/.exec(key);
    if (!m) continue;
    const p = `sun.gc.generation.${m[1]}.space.${m[2]}`;
    out.push({ gen: Number(m[1]), capacity: Number(c[key]), used: Number(c[`${p}.used`] ?? 0), max: Number(c[`${p}.maxCapacity`] ?? 0) });
  }
  return out;
}

/** MaxHeapSize: G1 reports every space against the whole heap (padded by a few bytes), the
 *  generational collectors split it between their generations. */
function heapMax(gens: SpaceFigures[], policy: string, n: (k: string) => number | null): number | null {
  if (gens.length === 0) return null;
  if (/G1|GarbageFirst/i.test(policy)) return page(Math.max(...gens.map((g) => g.max)));
  const g0 = n('sun.gc.generation.0.maxCapacity');
  const g1 = n('sun.gc.generation.1.maxCapacity');
  return g0 !== null && g1 !== null ? page(g0 + g1) : null;
}

/** Of several same-sized reservations, the one whose committed (rw) part is nearest what the JVM says. */
function best(spans: Span[], vmas: readonly Vma[], committed: number | null): Span | null {
  if (spans.length <= 1 || committed === null) return spans[0] ?? null;
  const rw = (s: Span) => spanBytes(vmas, s, (v) => (v.perms.startsWith('rw') ? v.size : 0));
  return spans.reduce((a, b) => (Math.abs(rw(b) - committed) < Math.abs(rw(a) - committed) ? b : a));
}

/** A metaspace node: committed in 64 KiB granules from its start, mostly PROT_NONE, never executable. */
function metaspaceShape(vmas: readonly Vma[], s: Span): boolean {
  const first = vmas[s.from]!;
  if (!first.perms.startsWith('rw')) return false;
  for (let i = s.from; i < s.to; i++) if (vmas[i]!.perms.includes('x') || vmas[i]!.size % 65536 !== 0) return false;
  return true;
}

function codeCache(vmas: readonly Vma[], anon: (i: number) => boolean, reserved: number): Span | null {
  const first = vmas.findIndex((v, i) => anon(i) && v.perms === 'rwxp');
  if (first < 0) return null;
  const limit = vmas[first]!.start + BigInt(reserved);
  let to = first + 1;
  while (to < vmas.length && anon(to) && vmas[to]!.start === vmas[to - 1]!.end && vmas[to]!.end <= limit && (vmas[to]!.perms === 'rwxp' || vmas[to]!.perms === '---p')) to++;
  return { from: first, to };
}

function jvmFlags(cmdline: string[], vmArgs: string): { maxHeap: number | null; classSpace: number | null; codeCache: number | null } {
  const args = [...cmdline, ...vmArgs.split(/\s+/)];
  const last = (re: RegExp) => args.map((a) => re.exec(a)?.[1]).filter((x): x is string => x !== undefined).pop();
  const size = (re: RegExp) => {
    const v = last(re);
    return v === undefined ? null : parseSize(v);
  };
  return {
    maxHeap: size(/^-Xmx(\w+)$/) ?? size(/^-XX:MaxHeapSize=(\w+)$/),
    classSpace: size(/^-XX:CompressedClassSpaceSize=(\w+)$/) ?? 1024 * MIB,
    codeCache: size(/^-XX:ReservedCodeCacheSize=(\w+)$/),
  };
}

/** The largest run of contiguous anonymous VMAs that ends at or below 32 GiB. */
function lowReservation(vmas: readonly Vma[], ok: (i: number) => boolean): Span | null {
  const limit = 32n << 30n;
  let best: Span | null = null;
  for (let i = 0; i < vmas.length && vmas[i]!.end <= limit; i++) {
    if (!ok(i)) continue;
    let j = i + 1;
    while (j < vmas.length && ok(j) && vmas[j]!.start === vmas[j - 1]!.end && vmas[j]!.end <= limit) j++;
    const size = (s: Span) => vmas[s.to - 1]!.end - vmas[s.from]!.start;
    if (!best || size({ from: i, to: j }) > size(best)) best = { from: i, to: j };
    i = j - 1;
  }
  return best && vmas[best.to - 1]!.end - vmas[best.from]!.start >= 1n << 20n ? best : null;
}

function versionOf(internal: string): string | null {
  return /\((\d+[\w.+-]*)\)/.exec(internal)?.[1] ?? null;
}
