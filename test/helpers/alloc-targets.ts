// Targets under an allocator other than glibc's: fixtures/targets/alloc-stats.c (C, LD_PRELOAD) and
// fixtures/targets/py-alloc.py (python3). Both print a JSON line when ready and, on SIGUSR1, their
// allocator's own reading of itself again ({"self":{...}}), taken in-process.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildTarget, CACHE_DIR, TARGETS_DIR } from './targets.js';

export type OtherAllocator = 'jemalloc' | 'tcmalloc' | 'mimalloc';

export const LIBS: Record<OtherAllocator, { path: string; pkg: string }> = {
  jemalloc: { path: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', pkg: 'libjemalloc2' },
  tcmalloc: { path: '/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4', pkg: 'libtcmalloc-minimal4' },
  mimalloc: { path: '/usr/lib/x86_64-linux-gnu/libmimalloc.so.2', pkg: 'libmimalloc2.0' },
};

/** Why a test of this allocator must skip, naming the Debian package, or null. */
export function missing(a: OtherAllocator): string | null {
  return existsSync(LIBS[a].path) ? null : `${LIBS[a].path} is missing: apt-get install ${LIBS[a].pkg}`;
}

export type SelfReading = Record<string, number | string>;

export interface AllocTruth {
  ready: true;
  pid: number;
  allocator: string;
  threads?: number[];
  live?: { count: number; requested: number; usable: number };
  freed?: { count: number; usable: number };
  self: SelfReading;
}

export interface AllocTarget {
  pid: number;
  truth: AllocTruth;
  /** SIGUSR1: the allocator's reading of itself, taken by the target now. */
  readSelf(): Promise<SelfReading>;
  alive(): boolean;
  stop(): Promise<void>;
}

export async function startAllocTarget(kind: { c: string[] } | { python: string[] } | { staticJemalloc: string[] }, allocator: OtherAllocator | null, env: Record<string, string> = {}): Promise<AllocTarget> {
  const [cmd, args] = 'c' in kind ? [await buildTarget('alloc-stats'), kind.c]
    : 'staticJemalloc' in kind ? [await buildStaticJemallocTarget(), kind.staticJemalloc]
    : [await pythonExecutable(), [join(TARGETS_DIR, 'py-alloc.py'), ...kind.python]];
  const child = execa(cmd, args, {
    env: { ...env, ...(allocator ? { LD_PRELOAD: LIBS[allocator].path } : {}) },
    extendEnv: true, stdin: 'ignore', buffer: false, reject: false, cleanup: true, forceKillAfterDelay: 3000,
  });
  let done = false;
  const finished = child.then(() => { done = true; }, () => { done = true; });
  let buf = '';
  const waiters: ((line: string) => void)[] = [];
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line); else lines.push(line);
    }
  });
  const next = (ms: number) => new Promise<string>((resolve, reject) => {
    const l = lines.shift();
    if (l !== undefined) return resolve(l);
    const t = setTimeout(() => reject(new Error(`no line from target within ${ms} ms; stderr: ${stderr}`)), ms);
    waiters.push((line) => { clearTimeout(t); resolve(line); });
  });
  const stop = async () => {
    if (!done) {
      try { process.kill(child.pid!, 'SIGCONT'); process.kill(child.pid!, 'SIGTERM'); } catch { /* gone */ }
      await finished;
    }
  };
  let truth: AllocTruth;
  try {
    truth = JSON.parse(await next(60_000)) as AllocTruth;
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    pid: child.pid!,
    truth,
    async readSelf() {
      process.kill(child.pid!, 'SIGUSR1');
      return (JSON.parse(await next(20_000)) as { self: SelfReading }).self;
    },
    alive: () => !done,
    stop,
  };
}

let python: Promise<string> | null = null;
/** The real python3 binary (not a pyenv shim script), so LD_PRELOAD reaches the interpreter itself. */
export function pythonExecutable(): Promise<string> {
  python ??= execa('python3', ['-c', 'import sys; print(sys.executable)']).then((r) => r.stdout.trim());
  return python;
}

export const JEMALLOC_STATIC = { path: '/usr/lib/x86_64-linux-gnu/libjemalloc.a', pkg: 'libjemalloc-dev' };

/** alloc-stats with jemalloc linked in statically and hidden from the dynamic symbol table. */
export async function buildStaticJemallocTarget(): Promise<string> {
  // with the other targets, once per source and library version (it was one file per test process)
  const src = join(TARGETS_DIR, 'alloc-stats.c');
  const lib = statSync(JEMALLOC_STATIC.path);
  const hash = createHash('sha256').update(readFileSync(src)).update(`\0${lib.size}:${lib.mtimeMs}`).digest('hex').slice(0, 16);
  const out = join(CACHE_DIR, `alloc-stats-static-je-${hash}`);
  if (!existsSync(out)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-DSTATIC_JEMALLOC', '-o', tmp, src, JEMALLOC_STATIC.path, '-lm', '-ldl', '-Wl,--exclude-libs,ALL']);
    renameSync(tmp, out);
  }
  return out;
}
