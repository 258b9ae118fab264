// Build and run the C test targets in fixtures/targets/ and read their ground-truth line.
//
//   const t = await startTarget('pinned-threads', ['4', '400', '32768']);
//   try { ... t.truth.threads[0].liveBytes ... } finally { await t.stop(); }
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { access, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';

export { procState, procFds, readSmaps, parseSmaps } from './proc.js';
export type { ProcState, Vma } from './proc.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TARGETS_DIR = join(REPO_ROOT, 'fixtures', 'targets');
export const TARGET_NAMES = [
  'pinned-threads',
  'multi-heap',
  'mmap-chunks',
  'single-thread',
  'churn',
  'fragmenter',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** Same flags the targets are documented with, plus -Wall. */
export const GCC_FLAGS = ['-O1', '-g0', '-pthread', '-Wall'] as const;
export const CACHE_DIR = join(tmpdir(), 'heapgap-targets');
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 3_000;

// ---- ground truth --------------------------------------------------------------------------

/** Chunks one thread (or the main thread, in the main arena) allocated. */
export interface ArenaTruth {
  /** Sum of chunk sizes (malloc_usable_size + 8) still allocated. */
  liveBytes: number;
  /** Sum of chunk sizes freed (tcache'd ones included). */
  freedBytes: number;
  /** A live chunk sits above freed space in the same heap: top trimming cannot return it. */
  pinned: boolean;
}

export interface ThreadTruth extends ArenaTruth {
  tid: number;
  /** "0x..." 64 MiB-aligned heap bases, ascending: the arena's first heap + heaps with live chunks. */
  heapBases: string[];
}

export interface Truth {
  ready: true;
  pid: number;
  main: ArenaTruth;
  threads: ThreadTruth[];
  /** Chunks served by their own mmap: count and sum of chunk sizes (page multiples). */
  mmap: { count: number; bytes: number };
}

function fail(msg: string): never {
  throw new Error(`bad truth line: ${msg}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function nat(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not a non-negative integer`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') fail(`${what} is not a boolean`);
  return v;
}

function arenaTruth(v: unknown, what: string): ArenaTruth {
  const o = obj(v, what);
  return {
    liveBytes: nat(o['liveBytes'], `${what}.liveBytes`),
    freedBytes: nat(o['freedBytes'], `${what}.freedBytes`),
    pinned: bool(o['pinned'], `${what}.pinned`),
  };
}

/** Parse and validate a target's JSON line. */
export function parseTruth(line: string): Truth {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    fail(`not JSON (${String(e)}): ${line.slice(0, 200)}`);
  }
  const o = obj(raw, 'line');
  if (o['ready'] !== true) fail('ready is not true');
  const threads = o['threads'];
  if (!Array.isArray(threads)) fail('threads is not an array');
  const mmap = obj(o['mmap'], 'mmap');
  return {
    ready: true,
    pid: nat(o['pid'], 'pid'),
    main: arenaTruth(o['main'], 'main'),
    threads: threads.map((t: unknown, i) => {
      const w = obj(t, `threads[${i}]`);
      const bases = w['heapBases'];
      if (!Array.isArray(bases) || !bases.every((b) => typeof b === 'string' && /^0x[0-9a-f]+$/.test(b)))
        fail(`threads[${i}].heapBases is not an array of hex strings`);
      return { tid: nat(w['tid'], `threads[${i}].tid`), heapBases: bases as string[], ...arenaTruth(w, `threads[${i}]`) };
    }),
    mmap: { count: nat(mmap['count'], 'mmap.count'), bytes: nat(mmap['bytes'], 'mmap.bytes') },
  };
}

/** "0x7f12..." -> bigint (addresses are compared as bigint; see Vma.start). */
export function addr(hex: string): bigint {
  return BigInt(hex);
}

// ---- building ------------------------------------------------------------------------------

const builds = new Map<string, Promise<string>>();

/**
 * Compile fixtures/targets/<name>.c once per source version into a cache directory under
 * os.tmpdir() (keyed by a hash of the source and flags); returns the binary's path.
 * Safe against concurrent builds from several test workers (compile to a temp file + rename).
 */
export function buildTarget(name: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) return Promise.reject(new Error(`bad target name: ${name}`));
  let p = builds.get(name);
  if (!p) {
    p = doBuild(name);
    builds.set(name, p);
    p.catch(() => builds.delete(name));
  }
  return p;
}

async function doBuild(name: string): Promise<string> {
  const src = join(TARGETS_DIR, `${name}.c`);
  const source = await readFile(src);
  // every shared header (prelude.h, meter.h): a target's binary is rebuilt when one changes
  const headers = await Promise.all((await readdir(TARGETS_DIR)).filter((f) => f.endsWith('.h')).sort().map((f) => readFile(join(TARGETS_DIR, f))));
  const hash = headers.reduce((h, b) => h.update(b), createHash('sha256').update(GCC_FLAGS.join(' ')).update('\0').update(source)).digest('hex').slice(0, 16);
  const out = join(CACHE_DIR, `${name}-${hash}`);
  try {
    await access(out, fsc.X_OK);
    return out;
  } catch {
    // not built yet
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const r = await execa('gcc', [...GCC_FLAGS, '-o', tmp, src], { reject: false, stdin: 'ignore', timeout: 120_000 });
  if (r.exitCode !== 0) {
    await rm(tmp, { force: true });
    throw new Error(`gcc failed for ${name}.c (exit ${String(r.exitCode)}):\n${r.stderr}`);
  }
  await rename(tmp, out);
  return out;
}

// ---- running -------------------------------------------------------------------------------

const SPAWN_OPTIONS = {
  stdin: 'ignore',
  buffer: false,
  reject: false,
  cleanup: true,
  forceKillAfterDelay: STOP_GRACE_MS,
} as const;
type TargetSpawnOptions = typeof SPAWN_OPTIONS & { env: Record<string, string>; extendEnv: true };
export type TargetProcess = ResultPromise<TargetSpawnOptions>;

export interface RunningTarget {
  name: string;
  pid: number;
  truth: Truth;
  /** The truth line exactly as printed (without the newline). */
  line: string;
  proc: TargetProcess;
  /** The target's stderr so far (capped at 64 KiB). */
  stderr(): string;
  /** Whether the process has exited (and been reaped). */
  exited(): boolean;
  /** SIGTERM (plus SIGCONT, in case a test left it stopped); SIGKILL after 3 s; waits for exit. */
  stop(): Promise<void>;
}

const running = new Set<RunningTarget>();

process.once('exit', () => {
  for (const t of running) {
    try {
      process.kill(t.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Stop every target this process started and has not stopped yet (for afterAll). */
export async function stopAllTargets(): Promise<void> {
  await Promise.all([...running].map((t) => t.stop()));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Build (if needed) and start a target, wait (at most 20 s) for its JSON line and parse it.
 * `env` is added to this process's environment (e.g. { MALLOC_ARENA_MAX: '2' }).
 */
export async function startTarget(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningTarget> {
  const bin = await buildTarget(name);
  const proc: TargetProcess = execa(bin, args, { ...SPAWN_OPTIONS, env, extendEnv: true });
  const pid = proc.pid;
  if (pid === undefined) {
    await proc;
    throw new Error(`could not spawn ${bin}`);
  }

  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    if (stderr.length < 65536) stderr += d;
  });
  let done = false;
  const finished = proc.then(
    (r) => {
      done = true;
      return r;
    },
    (e: unknown) => {
      done = true;
      throw e;
    },
  );

  const line = await new Promise<string>((resolveLine, rejectLine) => {
    let buf = '';
    const timer = setTimeout(() => {
      cleanup();
      rejectLine(new Error(`${name}: no ready line within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onData = (d: string): void => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        cleanup();
        resolveLine(buf.slice(0, nl));
      }
    };
    const onExit = (): void => {
      cleanup();
      rejectLine(new Error(`${name} exited before its ready line`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', onData);
    finished.then(onExit, onExit);
  }).catch(async (e: unknown) => {
    signal(pid, 'SIGKILL');
    const r = await finished.catch(() => undefined);
    const how = r ? `exit code ${String(r.exitCode)}, signal ${String(r.signal)}` : 'unknown exit';
    throw new Error(`${e instanceof Error ? e.message : String(e)} (${how})\nstderr: ${stderr}`);
  });
  // Anything printed after the ready line is a bug in the target: keep draining, though.
  proc.stdout.resume();

  let truth: Truth;
  try {
    truth = parseTruth(line);
    if (truth.pid !== pid) throw new Error(`truth pid ${truth.pid} is not the spawned pid ${pid}`);
  } catch (e) {
    signal(pid, 'SIGKILL');
    await finished.catch(() => undefined);
    throw e;
  }

  let stopping: Promise<void> | undefined;
  const t: RunningTarget = {
    name,
    pid,
    truth,
    line,
    proc,
    stderr: () => stderr,
    exited: () => done,
    stop: () => {
      stopping ??= (async () => {
        if (!done) {
          signal(pid, 'SIGTERM');
          signal(pid, 'SIGCONT');
          const timer = setTimeout(() => signal(pid, 'SIGKILL'), STOP_GRACE_MS);
          await finished.catch(() => undefined);
          clearTimeout(timer);
        }
        running.delete(t);
      })();
      return stopping;
    },
  };
  running.add(t);
  return t;
}
