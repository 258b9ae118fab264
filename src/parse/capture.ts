import { ALLOCATORS, CATEGORIES, READABLE, SEVERITIES } from '../contract.js';
import { upgradeCapture } from '../snapshot.js';
import type { Snapshot, SnapshotV1 } from '../snapshot.js';
import type { InspectReport } from '../types.js';
import { HeapgapError, excerpt } from '../errors.js';
import { check, describe, fail } from './schema.js';
import type { Spec } from './schema.js';
import { checkGlibcCapture, PAGE_MAP_SPEC, PINNING_SPEC } from '../allocators/glibc/capture-check.js';

/** A document heapgap reads back: a capture, or an inspect --json output (for diff). */
export type Loaded = { kind: 'capture'; snapshot: Snapshot } | { kind: 'inspect'; report: InspectReport };

/** Parses and validates a capture or inspect JSON file (today's and older); every failure names the file and the field. */
export function parseDocument(text: string, source: string): Loaded {
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text); // a BOM from an editor is fine
  } catch (cause) {
    throw new HeapgapError('BAD_INPUT', `${source}: not JSON (${(cause as Error).message}); got ${excerpt(text)}`, { hint: HINT });
  }
  const obj = record(doc, source, 'the document');
  if ((READABLE.inspect as readonly unknown[]).includes(obj.schema)) return { kind: 'inspect', report: checkInspect(obj, source) };
  if (obj.schema === 'heapgap.capture/1') return { kind: 'capture', snapshot: upgradeCapture(checkCaptureV1(obj, source)) };
  if (obj.schema === 'heapgap.capture/2') return { kind: 'capture', snapshot: checkCapture(obj, source) };
  const known = [...READABLE.capture, ...READABLE.inspect].map((x) => `"${x}"`).join(', ');
  throw new HeapgapError('BAD_INPUT', `${source}: expected schema ${known}, got ${describe(obj.schema)}`, { hint: HINT });
}

const HINT = 'pass a file written by `heapgap capture` or `heapgap inspect --json`.';

/** What every capture has, whatever its version. */
function checkCommon(o: Record<string, unknown>, src: string): Record<string, unknown> {
  num(o, 'pid', src);
  num(o, 'cpus', src);
  str(o, 'takenAt', src);
  str(o, 'comm', src);
  const raw = record(o.raw, src, 'raw');
  str(raw, 'smaps', src, 'raw.');
  str(raw, 'status', src, 'raw.');
  const env = record(o.env, src, 'env');
  for (const [k, v] of Object.entries(env)) if (typeof v !== 'string') fail(src, `env.${k}`, 'a string', v);
  list(o, 'stackPointers', src).forEach((s, i) => typeof s === 'string' && /^0x[0-9a-f]+$/.test(s) ? undefined : fail(src, `stackPointers[${i}]`, 'a hex address', s));
  list(o, 'notes', src).forEach((n, i) => (typeof n === 'string' ? undefined : fail(src, `notes[${i}]`, 'a string', n)));
  if (o.glibcVersion !== null && typeof o.glibcVersion !== 'string') fail(src, 'glibcVersion', 'a string or null', o.glibcVersion);
  if (!(ALLOCATORS as readonly unknown[]).includes(o.allocator)) fail(src, 'allocator', `one of ${ALLOCATORS.join(', ')}`, o.allocator);
  return raw;
}

function checkCaptureV1(o: Record<string, unknown>, src: string): SnapshotV1 {
  const raw = checkCommon(o, src);
  if (raw.mallocInfo !== null) str(raw, 'mallocInfo', src, 'raw.');
  checkGlibc(o, src, '');
  return o as unknown as SnapshotV1;
}

function checkCapture(o: Record<string, unknown>, src: string): Snapshot {
  checkCommon(o, src);
  list(o, 'allocators', src).forEach((a, i) => ((ALLOCATORS as readonly unknown[]).includes(a) ? undefined : fail(src, `allocators[${i}]`, 'an allocator name', a)));
  const sections = record(o.sections, src, 'sections');
  if (sections.glibc !== undefined) {
    const glibc = record(sections.glibc, src, 'sections.glibc');
    // mallocInfo is null only when the heap check found the heap corrupt and no call was made
    if (glibc.mallocInfo !== null || glibc.heapCheck === undefined) str(glibc, 'mallocInfo', src, 'sections.glibc.');
    if (glibc.heapCheck !== undefined) checkHeapCheck(record(glibc.heapCheck, src, 'sections.glibc.heapCheck'), src, 'sections.glibc.heapCheck.');
    checkGlibc(glibc, src, 'sections.glibc.');
    checkGlibcCapture(glibc.internals, src, 'sections.glibc.internals');
  }
  checkOtherSections(sections, src);
  if (o.trim !== undefined) {
    const trim = record(o.trim, src, 'trim');
    num(trim, 'pad', src, 'trim.');
    str(trim, 'smapsAfter', src, 'trim.');
    for (const k of ['statusBefore', 'statusAfter', 'rollupBefore', 'rollupAfter']) if (trim[k] !== undefined && trim[k] !== null) str(trim, k, src, 'trim.');
  }
  if (o.runtime !== undefined && o.runtime !== null) {
    const rt = record(o.runtime, src, 'runtime');
    list(rt, 'cmdline', src).forEach((a, i) => (typeof a === 'string' ? undefined : fail(src, `runtime.cmdline[${i}]`, 'a string', a)));
    if (rt.hsperfdata !== null) {
      const counters = record(record(rt.hsperfdata, src, 'runtime.hsperfdata').counters, src, 'runtime.hsperfdata.counters');
      for (const [k, v] of Object.entries(counters)) if (typeof v !== 'number' && typeof v !== 'string') fail(src, `runtime.hsperfdata.counters.${k}`, 'a number or string', v);
    }
  }
  if (o.cgroup !== undefined && o.cgroup !== null) {
    const cg = record(o.cgroup, src, 'cgroup');
    if (cg.version !== 1 && cg.version !== 2) fail(src, 'cgroup.version', '1 or 2', cg.version);
    str(cg, 'path', src, 'cgroup.');
    for (const k of ['currentBytes', 'anonBytes', 'fileBytes']) num(cg, k, src, 'cgroup.');
    for (const k of ['peakBytes', 'limitBytes', 'headroomBytes']) if (cg[k] !== null) num(cg, k, src, 'cgroup.');
  }
  if (o.rollupAfter !== undefined && o.rollupAfter !== null) str(o, 'rollupAfter', src);
  return o as unknown as Snapshot;
}

/** The other allocators' sections: the figures their analysers read without looking twice. */
function checkOtherSections(sections: Record<string, unknown>, src: string): void {
  const need: Record<string, string[]> = {
    jemalloc: ['page', 'narenas', 'allocated', 'active', 'resident', 'mapped', 'retained', 'metadata', 'pdirty', 'pmuzzy'],
    tcmalloc: [],
    mimalloc: [],
  };
  for (const [name, fields] of Object.entries(need)) {
    if (sections[name] === undefined) continue;
    const at = `sections.${name}.`;
    const s = record(sections[name], src, `sections.${name}`);
    str(s, 'object', src, at);
    for (const k of fields) num(s, k, src, at);
    if (name === 'jemalloc') list(s, 'arenas', src).forEach((a, i) => { for (const k of ['index', 'nthreads', 'pactive', 'pdirty', 'pmuzzy']) num(record(a, src, `${at}arenas[${i}]`), k, src, `${at}arenas[${i}].`); });
    if (name === 'tcmalloc') {
      const p = record(s.properties, src, `${at}properties`);
      for (const k of ['generic.current_allocated_bytes', 'generic.heap_size']) num(p, k, src, `${at}properties.`);
      list(s, 'claims', src).forEach((c, i) => { const claim = record(c, src, `${at}claims[${i}]`); hexStr(claim, 'start', src, `${at}claims[${i}].`); hexStr(claim, 'end', src, `${at}claims[${i}].`); num(claim, 'rss', src, `${at}claims[${i}].`); });
    }
    if (name === 'mimalloc') {
      const p = record(s.processInfo, src, `${at}processInfo`);
      for (const k of ['currentCommit', 'peakCommit', 'currentRss', 'peakRss', 'pageFaults', 'elapsedMs']) num(p, k, src, `${at}processInfo.`);
      list(s, 'claims', src).forEach((c, i) => { const claim = record(c, src, `${at}claims[${i}]`); hexStr(claim, 'start', src, `${at}claims[${i}].`); hexStr(claim, 'end', src, `${at}claims[${i}].`); num(claim, 'rss', src, `${at}claims[${i}].`); });
    }
  }
  if (sections.musl !== undefined) str(record(sections.musl, src, 'sections.musl'), 'object', src, 'sections.musl.');
}

/** The free-list check before the calls (capture/2, sections.glibc.heapCheck). */
function checkHeapCheck(o: Record<string, unknown>, src: string, at: string): void {
  num(o, 'ms', src, at);
  if (typeof o.complete !== 'boolean') fail(src, `${at}complete`, 'true or false', o.complete);
  list(o, 'corrupt', src).forEach((p, i) => str(record(p, src, `${at}corrupt[${i}]`), 'text', src, `${at}corrupt[${i}].`));
  list(o, 'arenas', src).forEach((a, i) => {
    const arena = record(a, src, `${at}arenas[${i}]`);
    for (const k of ['index', 'systemMem', 'fastBytes', 'fastChunks', 'binBytes', 'binChunks']) num(arena, k, src, `${at}arenas[${i}].`);
    list(arena, 'heaps', src);
  });
}

/** glibc's figures: at the top of a /1 capture, in sections.glibc of a /2 one. */
function checkGlibc(o: Record<string, unknown>, src: string, at: string): void {
  num(o, 'heapMax', src, at);
  list(o, 'claims', src).forEach((c, i) => {
    const claim = record(c, src, `${at}claims[${i}]`);
    hexStr(claim, 'start', src, `${at}claims[${i}].`);
    hexStr(claim, 'end', src, `${at}claims[${i}].`);
    num(claim, 'rss', src, `${at}claims[${i}].`);
    if (claim.category !== 'arena' && claim.category !== 'mmap-chunk') fail(src, `${at}claims[${i}].category`, '"arena" or "mmap-chunk"', claim.category);
  });
  if (o.trimmable !== undefined) {
    list(o, 'trimmable', src).forEach((t, i) => {
      const m = record(t, src, `${at}trimmable[${i}]`);
      for (const k of ['index', 'residentBytes', 'chunks']) num(m, k, src, `${at}trimmable[${i}].`);
      if (typeof m.complete !== 'boolean') fail(src, `${at}trimmable[${i}].complete`, 'true or false', m.complete);
    });
  }
  if (o.layout !== null) {
    const layout = record(o.layout, src, `${at}layout`);
    list(layout, 'arenas', src).forEach((a, i) => {
      const arena = record(a, src, `${at}layout.arenas[${i}]`);
      num(arena, 'systemMem', src, `${at}layout.arenas[${i}].`);
      list(arena, 'heaps', src).forEach((h, j) => num(record(h, src, `${at}layout.arenas[${i}].heaps[${j}]`), 'size', src, `${at}layout.arenas[${i}].heaps[${j}].`));
    });
  }
}

const opt = (spec: Spec, fallback: unknown): Spec => ({ optional: spec, fallback });

/** heapgap.inspect/1 as the reporters read it; fields added after the contract may be missing. */
const INSPECT: Spec = {
  target: { pid: 'num', comm: 'str', threads: 'num', cpus: 'num', allocator: ALLOCATORS, allocators: opt({ list: ALLOCATORS }, []), glibcVersion: 'str?', env: 'strmap' },
  rss: { total: 'num', anon: 'num', file: 'num', shmem: 'num', swap: 'num', pss: 'num' },
  breakdown: { list: { category: CATEGORIES, rss: 'num', size: 'num', vmas: 'num' } },
  arenas: {
    list: {
      // Other allocators' arenas (contract v2) have no kind and null where a figure does not apply.
      index: 'num', allocator: opt(ALLOCATORS, 'glibc'), kind: { nullableOf: ['main', 'thread'] }, address: 'hex?',
      heaps: { list: { start: 'hex', end: 'hex', size: 'num', rss: 'num', mappedBytes: opt('num', 0), vmas: opt({ list: { start: 'hex', end: 'hex', rss: 'num', perm: 'str' } }, []) } },
      systemBytes: 'num?', inUseBytes: 'num?', freeBytes: 'num?', fastFreeBytes: 'num?', binFreeBytes: 'num?', topBytes: 'num?',
      rssBytes: 'num?', heldFreeRssBytes: 'num?', pinnedTop: 'bool?',
      predictedTrimBytes: opt('num?', 0), purgeableBytes: opt('num?', null), join: opt(['memory', 'inferred', 'allocator', 'none'], 'memory'),
      pinning: { optional: PINNING_SPEC, fallback: undefined }, pageMaps: { optional: { list: PAGE_MAP_SPEC }, fallback: undefined },
    },
  },
  mmapChunks: { count: 'num', bytes: 'num', rss: opt('num', 0) },
  totals: { systemBytes: 'num', inUseBytes: 'num', freeBytes: 'num', rssBytes: 'num', heldFreeRssBytes: 'num', predictedTrimBytes: opt('num', 0) },
  arenaMax: { arenas: 'num', threads: 'num', cpus: 'num', defaultLimit: 'num', configured: 'num?' },
  findings: { list: { kind: 'str', severity: SEVERITIES, bytes: 'num?', message: 'str', hint: 'str' } },
  pause: { stoppedMs: 'num?', callMs: opt('num?', null), attachMs: opt('num?', null) },
  notes: opt({ list: 'str' }, []),
  takenAt: opt('str', ''),
};

function checkInspect(o: Record<string, unknown>, src: string): InspectReport {
  return check<InspectReport>(o, INSPECT, src);
}

function record(v: unknown, src: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(src, what, 'an object', v);
  return v as Record<string, unknown>;
}
function list(o: Record<string, unknown>, k: string, src: string): unknown[] {
  if (!Array.isArray(o[k])) fail(src, k, 'an array', o[k]);
  return o[k] as unknown[];
}
function num(o: Record<string, unknown>, k: string, src: string, prefix = ''): void {
  if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || (o[k] as number) < 0) fail(src, prefix + k, 'a non-negative number', o[k]);
}
function str(o: Record<string, unknown>, k: string, src: string, prefix = ''): void {
  if (typeof o[k] !== 'string') fail(src, prefix + k, 'a string', o[k]);
}
function hexStr(o: Record<string, unknown>, k: string, src: string, prefix = ''): void {
  if (typeof o[k] !== 'string' || !/^0x[0-9a-f]{1,16}$/.test(o[k] as string)) fail(src, prefix + k, 'a hex address like 0x7f00', o[k]);
}

