/**
 * One snapshot of a live process, in the order the work happens:
 * 1. before attach (target running): status checks, /proc/PID/maps, which allocators, libc's ELF,
 *    environment; each allocator's collector plans its part of the stop;
 * 2. the stop (safe-call/): every allocator's stop.py, through the one protocol;
 * 3. after detach (target running): smaps, status, stack pointers; each collector measures what
 *    needs the running target (/proc/PID/mem, pagemap).
 */
import { COLLECTORS } from '../allocators/collectors.js';
import { detectProcess } from '../allocators/detect-process.js';
import type { ProcessAllocators } from '../allocators/detect-process.js';
import type { AllocatorName } from '../contract.js';
import type { Measured, Prepared, Target } from '../allocators/types.js';
import { HeapgapError } from '../errors.js';
import { allocatorEnv } from '../parse/environ.js';
import { parseSyscall } from '../parse/syscall.js';
import { SmapsParser } from '../parse/smaps.js';
import type { Sections, Snapshot } from '../snapshot.js';
import type { Vma } from '../types.js';
import { hex } from '../units.js';
import { VERSION } from '../version.js';
import { locateLibc, readLibcImage } from './elf.js';
import { ProcMemory } from './memory.js';
import { listTasks, onlineCpus, readProc, readProcBuffer, readProcChunks, readProcEach } from './procfs.js';
import { discardEarly, preflight, safeCall, startEarly } from './safe-call/index.js';
import { readRuntimeFacts, runtimeHints } from './runtime-facts.js';
import { readCgroup } from './cgroup.js';
import { jcmdVmInfo } from './jcmd.js';
import { mark } from '../marks.js';

export interface SnapshotOptions {
  mode: 'inspect' | 'trim';
  pad?: number;
  deadline: number;
  callBudgetMs?: number;
  signal?: AbortSignal;
  onProgress?: (msg: string) => void;
  /**
   * Keep smaps' text in snapshot.raw (a capture needs it; inspect does not, and for 60,000 VMAs it
   * is 43 MB). Without it, reading snapshot.raw.smaps is a programming error and throws.
   */
  keepRawSmaps?: boolean;
  /** Ask a JVM for its ranges with `jcmd PID VM.info` after detaching (opt-in: the JVM does work). */
  jvmJcmd?: boolean;
  /** trim: whose release call to make (default: the allocator serving malloc). */
  allocator?: AllocatorName;
  /**
   * Called once gdb has been asked for, before its result is awaited: node is idle while gdb starts
   * and attaches, the time to load what is needed after detach (inspect: its analysis).
   */
  whileGdbRuns?: () => void;
}

export interface TakenSnapshot {
  snapshot: Snapshot;
  /** snapshot.raw.smaps, parsed: hand it to analyse() so it is not parsed again. */
  vmas: Vma[];
  /** snapshot.raw.smaps as read (text, or the buffers it came in), or null when not kept. */
  rawSmaps: string | readonly Buffer[] | null;
}

export async function takeSnapshot(pid: number, opts: SnapshotOptions): Promise<TakenSnapshot> {
  // gdb starts now (it attaches nothing until safeCall gives it its parameters): its own start-up
  // overlaps the reading below instead of following it
  startEarly(pid);
  try {
    return await snapshotOf(pid, opts);
  } finally {
    await discardEarly(); // not taken: heapgap refused before attaching
  }
}

async function snapshotOf(pid: number, opts: SnapshotOptions): Promise<TakenSnapshot> {
  // 1. before attach
  mark('snapshot');
  const before = await preflight(pid);
  const maps = readMaps(pid);
  const found = await detectProcess(pid, maps);
  const withCollector = found.present.filter((p) => COLLECTORS[p.name]);
  const musl = found.serving === 'musl';
  if (withCollector.length === 0 && !musl) throw unsupported(pid, found.serving, found.evidence);
  const releaser = opts.mode === 'trim' ? releaseAllocator(pid, found, opts.allocator ?? null) : null;
  const libcObject = found.objects.find((o) => GLIBC.test(o.path)) ?? null;
  const hints = runtimeHints(maps.map((v) => v.pathname));
  const [libc, environ, cpus, runtime] = await Promise.all([
    libcObject ? locateLibc(pid, libcObject).then(async (path) => ({ path, base: libcObject.base, image: await readLibcImage(path) })) : Promise.resolve(null),
    // 0400 and owned by the target's uid: CAP_SYS_PTRACE alone does not open it.
    readProcBuffer(pid, 'environ').then((b) => b.toString('latin1'), () => null),
    onlineCpus(),
    readRuntimeFacts(pid, hints), // before attach: the runtime is never stopped for these
  ]);
  const env = environ === null ? {} : allocatorEnv(environ);
  // Every call of the protocol (scratch mmap, memfd, fclose) goes to glibc: without it, no stop.
  if (withCollector.length > 0 && !libc) throw unsupported(pid, found.serving, found.evidence);
  const prepared: Prepared<unknown>[] = [];
  if (libc) {
    const target: Target = { pid, maps, libc, env, cpus, allocators: found };
    for (const p of withCollector) prepared.push(await COLLECTORS[p.name]!.prepare(target));
  }
  // trim: the "before" picture is read now, while the target runs; the stop holds only the call and
  // two reads of /proc/PID/status around it, so it grows with neither the VMAs nor the heap.
  const beforeTrim = opts.mode === 'trim' ? readSmaps(pid, opts.keepRawSmaps ?? false) : null;
  // The glibc line keeps its shape ("glibc V at PATH; attaching to PID"): scripts read it.
  const malloc = found.serving === 'glibc' && found.present.length <= 1 ? '' : ` (malloc: ${found.serving}${found.present.length > 1 ? `; allocators: ${found.present.map((p) => p.name).join(', ')}` : ''})`;
  opts.onProgress?.(libc ? `glibc ${libc.image.version ?? '?'} at ${libc.path}${malloc}; attaching to ${pid}` : `${found.serving}: nothing to call; reading /proc only`);
  // 2. the stop (none for musl: it has nothing to call)
  mark('safe-call');
  const calling = prepared.length === 0 ? null : safeCall({
    pid,
    mode: opts.mode,
    libc: libc!,
    plans: prepared.map((p) => p.plan),
    release: releaser,
    pad: opts.pad ?? 0,
    before,
    callBudgetMs: opts.callBudgetMs ?? 2000,
    deadline: opts.deadline,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  opts.whileGdbRuns?.();
  const call = await calling;
  mark('gdb-done');
  if (call) opts.onProgress?.('detached; measuring');
  // 3. after detach
  const { vmas, smaps } = beforeTrim ?? readSmaps(pid, opts.keepRawSmaps ?? false);
  const smapsAfter = opts.mode === 'trim' && call && call.statusAfter !== null ? Buffer.concat(readProcChunks(pid, 'smaps')).toString('latin1') : null;
  const [statusText, sps, cgroup] = await Promise.all([readProc(pid, 'status'), stackPointers(pid), readCgroup(pid)]);
  const memory = await ProcMemory.open(pid);
  try {
    const measured: Measured = { vmas, memory, pad: opts.pad ?? 0, mode: opts.mode };
    const sections: Record<string, unknown> = {};
    for (const p of prepared) sections[p.plan.name] = await p.measure(call!.allocators[p.plan.name], measured);
    if (musl) sections.musl = { object: found.present.find((p) => p.name === 'musl')?.object.path ?? 'musl' };
    const notes = [
      ...(environ === null ? ['the target\'s environment is not readable (file permissions): allocator settings are unknown'] : []),
      ...found.notes, ...prepared.flatMap((p) => p.notes), ...(call?.notes ?? []),
    ];
    if (!memory.canCountPages) notes.push('/proc/PID/pagemap is not readable: Rss of heaps that share a VMA with other memory is not split, and the trim prediction is estimated from malloc_info');
    const layoutNote = (sections.glibc as Sections['glibc'])?.layout?.note;
    if (layoutNote) notes.push(`arena join inferred: ${layoutNote}`);
    if (!memory.canRead && sections.glibc) notes.push('mmapped chunks could not be located: /proc/PID/mem is not readable');
    if (opts.jvmJcmd && hints.jvm) {
      const said = await jcmdVmInfo(pid, opts.deadline - Date.now());
      if ('text' in said) runtime.jcmdVmInfo = said.text;
      else notes.push(said.note);
    }
    // last, after heapgap's own reads of the target's memory (reading a page through
    // /proc/PID/mem faults it in): what the target is left with, as anyone reading it afterwards sees
    // (inspect only: a trim's snapshot describes the process before its release call)
    mark('measured');
    const rollupAfter = opts.mode === 'inspect' ? await readProc(pid, 'smaps_rollup').catch(() => null) : null;
    const snapshot: Snapshot = {
      schema: 'heapgap.capture/2',
      heapgapVersion: VERSION,
      takenAt: new Date().toISOString(),
      pid,
      comm: before.status.name,
      cpus,
      allocator: found.serving,
      allocators: found.present.map((p) => p.name),
      allocatorEvidence: found.evidence,
      glibcVersion: libc?.image.version ?? null,
      env,
      raw: lazyRaw(smaps, statusText),
      sections: sections as Sections,
      stackPointers: sps.map(hex),
      ...(smapsAfter !== null && call && releaser
        ? { trim: { pad: opts.pad ?? 0, returned: numberOrNull(call.released?.returned), smapsAfter, statusBefore: call.statusBefore, statusAfter: call.statusAfter, allocator: releaser, release: call.released } }
        : {}),
      pause: call?.pause ?? null,
      notes,
      runtime,
      cgroup,
      rollupAfter,
    };
    return { snapshot, vmas, rawSmaps: smaps };
  } finally {
    await memory.close();
  }
}

/** glibc's own C library (musl's is libc.so or ld-musl-*.so.1). */
const GLIBC = /\/libc\.so\.6$|\/libc-[\d.]+\.so$/;

/**
 * Whose release call a trim makes: the one asked for (--allocator), else the allocator serving
 * malloc. Refused before attaching when it has none heapgap can make.
 */
function releaseAllocator(pid: number, found: ProcessAllocators, asked: AllocatorName | null): AllocatorName {
  const name = asked ?? found.serving;
  if (!found.present.some((p) => p.name === name)) {
    throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `process ${pid} has no ${name} allocator (it has ${found.present.map((p) => p.name).join(', ') || 'none heapgap knows'})`, { hint: 'pick one of them with --allocator.' });
  }
  if (!COLLECTORS[name]) {
    throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `${name} has no release call heapgap can make in process ${pid}`, {
      hint: name === 'musl' ? 'musl\'s malloc returns freed groups to the kernel itself; there is nothing to trim. `heapgap inspect` shows what smaps says.' : 'see `heapgap inspect` for what can be said.',
    });
  }
  return name;
}

const numberOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** /proc/PID/maps, parsed as it is read (its own function: 20 MB for 60,000 VMAs is garbage soon). */
export function readMaps(pid: number): Vma[] {
  const parser = new SmapsParser(`/proc/${pid}/maps`);
  readProcEach(pid, 'maps', (chunk) => parser.feed(chunk));
  return parser.end();
}

/** smaps parsed as it is read; its bytes are kept only when asked. */
function readSmaps(pid: number, keep: boolean): { vmas: Vma[]; smaps: Buffer[] | null } {
  const parser = new SmapsParser(`/proc/${pid}/smaps`);
  const chunks: Buffer[] | null = keep ? [] : null;
  readProcEach(pid, 'smaps', (chunk) => {
    parser.feed(chunk);
    chunks?.push(Buffer.from(chunk));
  });
  return { vmas: parser.end(), smaps: chunks };
}

function unsupported(pid: number, allocator: string, evidence: string | null): HeapgapError {
  const hints: Record<string, string> = {
    static: 'a statically linked program carries its own allocator, and none heapgap knows (jemalloc, tcmalloc, mimalloc) was found in its symbols.',
    unknown: 'no C library heapgap knows (glibc libc.so.6, musl) is mapped in the process.',
  };
  return new HeapgapError('UNSUPPORTED_ALLOCATOR', `process ${pid} uses an allocator heapgap cannot read: ${allocator}${evidence ? ` (${evidence})` : ''}`, {
    hint: hints[allocator] ?? 'heapgap reads glibc malloc, jemalloc, tcmalloc (gperftools) and mimalloc, and names musl; it calls them through glibc, which must be mapped.',
  });
}

/** Stack pointers of threads blocked in a syscall: the VMAs holding them are stacks. */
export async function stackPointers(pid: number): Promise<bigint[]> {
  const sps: bigint[] = [];
  for (const tid of await listTasks(pid).catch(() => [] as number[])) {
    const sc = parseSyscall(await readProc(pid, `task/${tid}/syscall`).catch(() => ''));
    if (sc.blocked) sps.push(sc.sp);
  }
  return sps;
}

/**
 * The raw inputs, with smaps decoded to text only when someone reads snapshot.raw.smaps (heapgap
 * itself does not: `capture` writes the buffers through captureText). null: not kept (keepRawSmaps).
 */
function lazyRaw(smaps: string | readonly Buffer[] | null, status: string): Snapshot['raw'] {
  const raw = { status } as Snapshot['raw'];
  let text: string | null = typeof smaps === 'string' ? smaps : null;
  let chunks = typeof smaps === 'string' ? null : smaps;
  const decode = (): string => {
    if (chunks === null) throw new Error('snapshot.raw.smaps was not kept: takeSnapshot needs keepRawSmaps for a capture');
    const decoded = Buffer.concat(chunks).toString('latin1');
    chunks = null; // the text replaces the buffers
    return decoded;
  };
  Object.defineProperty(raw, 'smaps', { enumerable: true, get: () => (text ??= decode()) });
  return raw;
}

/**
 * The capture file's text (JSON and a newline) in pieces, the same bytes as
 * JSON.stringify(snapshot): smaps, nine tenths of it on a large process, is escaped buffer by
 * buffer, so the 45 MB document of a 60,000-VMA process never exists as one string.
 */
export function* captureText(taken: TakenSnapshot): Generator<string> {
  const smaps = taken.rawSmaps;
  if (smaps === null) throw new Error('captureText needs takeSnapshot with keepRawSmaps');
  const { status } = taken.snapshot.raw;
  const mark = '\u0000heapgap:smaps\u0000';
  // raw's keys in the order lazyRaw gives them, so the text matches JSON.stringify(snapshot)
  const shell = JSON.stringify({ ...taken.snapshot, raw: { status, smaps: mark } });
  const at = shell.indexOf(JSON.stringify(mark));
  yield shell.slice(0, at + 1);
  const pieces = typeof smaps === 'string' ? slices(smaps, 1 << 20) : smaps.map((b) => b.toString('latin1'));
  for (const piece of pieces) yield JSON.stringify(piece).slice(1, -1);
  yield `${shell.slice(at + JSON.stringify(mark).length - 1)}\n`;
}

function* slices(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}


/** trim --settle: the process's Rss a while after the release, when lazily freed pages have gone. */
export async function settle(pid: number, ms: number, signal: AbortSignal): Promise<{ vmas: Vma[]; rollup: string }> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
  return { vmas: readSmaps(pid, false).vmas, rollup: await readProc(pid, 'smaps_rollup') };
}
