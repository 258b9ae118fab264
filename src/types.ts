/** Data shared by parse/, analyse/ and report/. Bytes are numbers, addresses bigint. */
import type { AllocatorName, Category, SCHEMAS, Severity } from './contract.js';
import type { PauseFigures } from './collect/safe-call/types.js';
import type { WatchSummary } from './analyse/watch.js';
import type { PageMap } from './allocators/glibc/types.js';

export type { PageMap };
import type { GlibcSection } from './allocators/glibc/section.js';
import type { KernelFigures } from './kernel/figures.js';
import type { CgroupReport } from './kernel/cgroup.js';
import type { FileRow } from './kernel/files.js';
import type { RuntimeReport } from './runtimes/types.js';

export type { AllocatorName, Category, Severity } from './contract.js';
export type { Finding } from './analyse/findings/index.js';
/** @deprecated the name before contract.ts: an allocator's name. */
export type Allocator = AllocatorName;

/** One VMA from /proc/PID/smaps. All sizes in bytes. */
export interface Vma {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  dev: string;
  inode: number;
  pathname: string;
  size: number;
  rss: number;
  pss: number;
  anonymous: number;
  swap: number;
  /** Private_Clean + Private_Dirty: resident pages only this process maps. */
  privateRss: number;
  /** MADV_FREE'd pages still counted in Rss until the kernel needs them. */
  lazyFree: number;
  anonHugePages: number;
}

/** The fields of /proc/PID/status heapgap uses. */
export interface ProcStatus {
  name: string;
  state: string;
  tgid: number;
  tracerPid: number;
  uid: number;
  threads: number;
  /** Signals pending for this thread (SigPnd) and for the whole process (ShdPnd). */
  sigPnd: bigint;
  shdPnd: bigint;
  sigBlk: bigint;
  sigIgn: bigint;
  sigCgt: bigint;
  seccomp: number;
  capEff: bigint;
  vmRss: number | null;
}

/** One `<size>` or `<unsorted>` row of malloc_info, as printed. */
export interface SizeRow {
  kind: 'size' | 'unsorted';
  from: number;
  to: number;
  total: number;
  count: number;
}

export interface CountSize {
  count: number;
  size: number;
}

/** One `<heap nr=..>` of malloc_info, raw. */
export interface MallocInfoHeap {
  nr: number;
  rows: SizeRow[];
  fast: CountSize | null;
  rest: CountSize | null;
  systemCurrent: number;
  systemMax: number;
  aspaceTotal: number | null;
  aspaceMprotect: number | null;
  subheaps: number | null;
}

export interface MallocInfo {
  version: string;
  heaps: MallocInfoHeap[];
  totalFast: CountSize | null;
  totalRest: CountSize | null;
  totalMmap: CountSize | null;
  systemCurrent: number;
  systemMax: number;
}

export interface RssFigures {
  total: number;
  anon: number;
  file: number;
  shmem: number;
  swap: number;
  pss: number;
  /** Private pages: what the kernel gets back when the process exits (absent in older reports). */
  uss?: number;
  /** MADV_FREE'd pages still in Rss. */
  lazyFree?: number;
}

export interface BreakdownRow extends Partial<KernelFigures> {
  category: Category;
  rss: number;
  size: number;
  vmas: number;
}

export interface TargetInfo {
  pid: number;
  comm: string;
  threads: number;
  cpus: number;
  /** The allocator that serves malloc itself. */
  allocator: AllocatorName;
  /** Every allocator that serves memory in the process (e.g. jemalloc for the app, glibc for libraries). */
  allocators: AllocatorName[];
  glibcVersion: string | null;
  /** Only MALLOC_* and GLIBC_TUNABLES from the target's environ. */
  env: Record<string, string>;
}

/** One heap: the main arena's [heap] (brk), or a thread arena's heap_info block, with its VMAs. */
export interface HeapEntry {
  start: string;
  end: string;
  /** Address space of the heap (a thread heap: HEAP_MAX_SIZE, including its PROT_NONE reserve). */
  size: number;
  /** Its read-write part. */
  mappedBytes: number;
  rss: number;
  vmas: { start: string; end: string; rss: number; perm: string }[];
}

/** @deprecated inspect/1's per-VMA heap entry, still read from old documents. */
export type HeapRange = Pick<HeapEntry, 'start' | 'end' | 'size' | 'rss'> & Partial<HeapEntry>;

export interface ArenaReport {
  index: number;
  /** Which allocator's arena (inspect/1 documents: glibc). */
  allocator?: AllocatorName;
  kind: 'main' | 'thread';
  address: string | null;
  heaps: HeapRange[];
  systemBytes: number;
  inUseBytes: number;
  freeBytes: number;
  fastFreeBytes: number;
  binFreeBytes: number;
  topBytes: number;
  rssBytes: number;
  heldFreeRssBytes: number;
  pinnedTop: boolean;
  /** What malloc_trim(pad) is expected to hand back from this arena (resident bytes). */
  predictedTrimBytes: number;
  /** Resident free memory the allocator's own release call would give back (glibc: malloc_trim). */
  purgeableBytes?: number;
  /** How the arena's heaps were found: read from its heap_info/malloc_state, or inferred. */
  join: 'memory' | 'inferred';
  /**
   * glibc: the live chunks that keep free memory below them from being trimmed, highest first (at
   * most 16; `address` is the pointer malloc returned). Absent when the heaps were not walked.
   */
  pinning?: PinningReport[];
  /** From the heap walk: live chunks in the pinning stretch, free bytes below it, its resident part. */
  pinningChunks?: number;
  pinnedFreeBytes?: number;
  pinnedResidentBytes?: number;
  /** One page map per walked heap, from the same walk. */
  pageMaps?: PageMap[];
  /** The heap walk: complete, or why not. */
  walk?: { complete: boolean; problem: string | null };
}

export interface PinningReport {
  address: string;
  size: number;
  freeBelowBytes: number;
}

/**
 * An arena of an allocator other than glibc (contract v2): the same fields, null where they do not
 * apply or where the allocator does not count them (jemalloc has no top chunk; a mimalloc release
 * build counts no bytes in use).
 */
export interface OtherArenaReport {
  index: number;
  allocator: AllocatorName;
  kind: null;
  address: string | null;
  heaps: HeapRange[];
  systemBytes: number | null;
  inUseBytes: number | null;
  freeBytes: number | null;
  fastFreeBytes: null;
  binFreeBytes: null;
  topBytes: null;
  rssBytes: number | null;
  heldFreeRssBytes: number | null;
  pinnedTop: null;
  /** What the allocator's release call is expected to hand back (= purgeableBytes). */
  predictedTrimBytes: number | null;
  /** Resident free memory the allocator's own release call would give back. */
  purgeableBytes: number | null;
  /** Resident free memory it cannot give back (partly used slabs, per-thread caches). */
  notPurgeableBytes: number | null;
  /**
   * memory: Rss from smaps of address ranges the allocator confirmed as its own; allocator: its own
   * resident count (its mappings cannot be told apart by address); none: no Rss figure.
   */
  join: 'memory' | 'allocator' | 'none';
  /** The allocator's own per-arena figures, under its names. */
  detail: Record<string, number | null>;
}

/** Any arena entry of inspect/2. */
export type ArenaEntry = ArenaReport | OtherArenaReport;

/** A finding as documents carry it; inspect/1 documents have no `data`. */
export interface FindingReport {
  kind: string;
  severity: Severity;
  bytes: number | null;
  data?: unknown;
  message: string;
  hint: string;
}

export interface ArenaMaxReport {
  arenas: number;
  threads: number;
  cpus: number;
  defaultLimit: number;
  configured: number | null;
}

export interface InspectReport {
  schema: 'heapgap.inspect/1' | 'heapgap.inspect/2';
  target: TargetInfo;
  rss: RssFigures;
  breakdown: BreakdownRow[];
  arenas: ArenaEntry[];
  mmapChunks: { count: number; bytes: number; rss: number };
  totals: { systemBytes: number; inUseBytes: number; freeBytes: number; rssBytes: number; heldFreeRssBytes: number; predictedTrimBytes: number };
  arenaMax: ArenaMaxReport;
  /** Each allocator's own figures, under its own names (contract v2). */
  allocatorStats?: Record<string, Record<string, number | boolean | string | null>>;
  findings: FindingReport[];
  pause: Pause;
  notes: string[];
  takenAt: string;
  /** Runtimes recognised in the process (JVM, V8, CPython) and what they say about their memory. */
  runtimes?: RuntimeReport[];
  /** The memory cgroup the process is in; null when unreadable, absent in older reports. */
  cgroup?: CgroupReport | null;
  /** Mapped files by Rss, private vs shared (largest first). */
  files?: FileRow[];
}

/** pause in documents: inspect/1 had no callThreadMs or mode. */
export type Pause = Pick<PauseFigures, 'stoppedMs' | 'callMs' | 'attachMs'> & Partial<Pick<PauseFigures, 'callThreadMs' | 'mode' | 'stoppedTotalMs' | 'stops'>>;

export interface TrimArenaRow {
  index: number;
  rssBytes: number;
}

export interface TrimSide {
  rss: RssFigures;
  arenas: TrimArenaRow[];
}

export interface TrimReport {
  schema: 'heapgap.trim/2';
  target: TargetInfo;
  /** Which allocator's release call was made. */
  allocator: AllocatorName;
  pad: number;
  dryRun: boolean;
  /** The release call made, for allocators other than glibc (e.g. mallctl("arena.4096.purge")). */
  call?: string;
  /** malloc_trim's return value: 1 if anything was released, not a byte count. null on --dry-run and for other allocators. */
  returned: 0 | 1 | null;
  before: TrimSide;
  after: TrimSide | null;
  releasedBytes: number | null;
  /** What the allocator held as returnable, by its own count; null where it keeps none (mimalloc). */
  predictedBytes: number | null;
  arenas: { index: number; kind: 'main' | 'thread' | null; beforeRss: number | null; afterRss: number | null; releasedBytes: number | null; predictedBytes: number | null }[];
  /** trim/2: per arena, with the allocator named (jemalloc: its own resident count, see notes). */
  perArena: { index: number; allocator: AllocatorName; rssBefore: number | null; rssAfter: number | null; releasedBytes: number | null; predictedBytes: number | null }[];
  /** Rss re-read after --settle (null: not asked for). */
  settled: { afterMs: number; rss: RssFigures; anonHugePagesBytes: number; lazyFreeBytes: number } | null;
  findings: FindingReport[];
  pause: Pause;
}

export interface ExperimentRun {
  arenaMax: number | 'default';
  peakRssBytes: number;
  finalRssBytes: number;
  exitCode: number | null;
  wallMs: number;
  arenas: number | null;
  repeats: number;
  /** Against the default run: bytes are bytes, the ratio is a ratio (null for the default run itself). */
  savingVsDefault: { peakBytes: number; finalBytes: number; peakRatio: number } | null;
  /** User + system CPU time of the whole process tree (median over repeats). */
  cpuMs?: number;
  /** With --load: the load's own wall time (median) and exit code (null: killed when the run ended). */
  load?: { wallMs: number; exitCode: number | null };
}

export interface ExperimentReport {
  schema: 'heapgap.experiment/2';
  command: string[];
  runs: ExperimentRun[];
}

export interface DiffReport {
  schema: 'heapgap.diff/1';
  /** The process of the AFTER document. */
  target: TargetInfo;
  before: { pid: number; takenAt: string };
  after: { pid: number; takenAt: string };
  rss: { before: number; after: number; delta: number };
  breakdown: { category: Category; before: number; after: number; delta: number }[];
  arenas: { key: string; index: number | null; before: ArenaEntry | null; after: ArenaEntry | null; rssDelta: number; inUseDelta: number; heldFreeDelta: number }[];
  findings: { appeared: FindingReport[]; resolved: FindingReport[] };
}

/** demo: the three reports of one run, as one document. */
export interface DemoReport {
  schema: 'heapgap.demo/1';
  before: InspectReport;
  trim: TrimReport;
  after: InspectReport;
}

export type AnyReport = InspectReport | TrimReport | ExperimentReport | DiffReport | DemoReport | WatchSummary;

/** One watch tick: read without stopping the target. */
export interface RssSample {
  takenAt: number;
  vmas: Vma[];
  claims: GlibcSection['claims'];
  /** Thread-arena heap blocks by the arena (malloc_state address) their heap_info points to. */
  owners: Map<string, { start: bigint; end: bigint }[]>;
  stackPointers: bigint[];
}


/** One arena as `heapgap top` read it without stopping the process: every figure is an estimate. */
export interface TopArena {
  index: number;
  kind: 'main' | 'thread';
  address: string;
  heaps: number;
  systemBytes: number;
  topBytes: number;
  /** Fastbins + bins + top, from a racy read of the lists (a lower bound when `complete` is false). */
  freeEstimateBytes: number;
  inUseEstimateBytes: number;
  rssBytes: number;
  heldFreeEstimateBytes: number;
  /** False when a free list changed under the read or the walk budget ran out. */
  complete: boolean;
}

/** One process in `heapgap top` (schema heapgap.top/1). Arena figures are null when not readable. */
export interface TopProcess {
  pid: number;
  comm: string;
  allocator: Allocator;
  glibcVersion: string | null;
  threads: number;
  rssBytes: number;
  arenas: number | null;
  arenaLimit: number | null;
  arenaRssBytes: number | null;
  heldFreeEstimateBytes: number | null;
  estimate: true;
  arenaDetail: TopArena[];
  /** Why there are no arena figures, or what makes them rougher than usual. */
  note: string | null;
}

export interface TopReport {
  schema: typeof SCHEMAS.top;
  takenAt: string;
  durationMs: number;
  cpus: number;
  cgroup: string | null;
  /** Processes read in the pass; `processes` holds the first `--limit` of them. */
  processCount: number;
  processes: TopProcess[];
  /** Processes seen but not reported: unreadable (permissions), exited meanwhile, kernel threads. */
  skipped: { unreadable: number; exited: number; kernel: number };
  /** `--inspect N`: the full inspect of the first N glibc processes, and those that failed. */
  inspected: InspectReport[];
  inspectErrors: { pid: number; message: string }[];
}

/** Every document a command can hand to a reporter. */
export type AnyDocument = AnyReport | TopReport;
