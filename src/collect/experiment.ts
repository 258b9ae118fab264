import { readFile, readdir } from 'node:fs/promises';
import { execa } from 'execa';
import { HeapgapError } from '../errors.js';
import { parseSmaps } from '../parse/smaps.js';
import { ProcMemory } from './memory.js';
import { treeCpuMs } from './tree-cpu.js';

export interface RunPlan {
  command: string[];
  env: Record<string, string | undefined>;
  sampleMs: number;
  durationMs: number | null;
  load: { command: string; warmupMs: number } | null;
  signal: AbortSignal;
  deadline: number;
}

export interface RunMeasure {
  peakRssBytes: number;
  finalRssBytes: number;
  exitCode: number | null;
  wallMs: number;
  arenas: number | null;
  /** User + system CPU time of the whole process tree, sampled with the Rss (see treeCpuMs). */
  cpuMs: number;
  /** The --load command's own wall time and exit code (null: killed when the run ended first). */
  load: { wallMs: number; exitCode: number | null } | null;
}

const HEAP_MAX = 64n * 1024n * 1024n;
const PAGE = 4096;

/** Runs the command once, sampling the Rss of its whole process tree until it exits or is stopped. */
export async function measureRun(plan: RunPlan): Promise<RunMeasure> {
  const [file, ...args] = plan.command;
  if (!file) throw new HeapgapError('USAGE', 'experiment needs a command after --');
  const started = performance.now();
  const child = execa(file, args, { env: plan.env, extendEnv: true, reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
  let exited = false;
  const done = child.then((r) => {
    exited = true;
    return r;
  });
  const root = child.pid;
  if (root === undefined) {
    const r = await done;
    throw new HeapgapError('USAGE', `cannot run ${file}: ${String((r as { message?: string }).message ?? 'not found')}`, { hint: 'give the program and its arguments after --, e.g. -- ./server --port 8080' });
  }
  let peak = 0;
  let last = 0;
  let arenas: number | null = null;
  let load: ReturnType<typeof execa> | null = null;
  let loadStarted = 0;
  let loadResult: RunMeasure['load'] = null;
  let cpuMs = 0;
  let lastArenaCheck = 0;
  const stopAt = plan.durationMs === null ? Infinity : started + plan.durationMs;
  while (!exited) {
    const now = performance.now();
    const pids = await tree(root);
    const rss = await treeRss(pids);
    // Reaped descendants move into their reaper's cutime: the tree's total only grows, but a
    // process sampled between its exit and its parent's wait can make one sample run ahead.
    if (!exited) cpuMs = Math.max(cpuMs, await treeCpuMs(pids));
    if (!exited && rss > 0) {
      last = rss;
      peak = Math.max(peak, rss);
    }
    if (now - lastArenaCheck > 500) {
      lastArenaCheck = now;
      const n = await countArenas(pids);
      if (n !== null) arenas = Math.max(arenas ?? 0, n);
    }
    if (plan.load && !load && now - started >= plan.load.warmupMs) {
      loadStarted = performance.now();
      const running = execa('sh', ['-c', plan.load.command], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
      load = running;
      void running.then((r) => {
        loadResult ??= { wallMs: Math.round(performance.now() - loadStarted), exitCode: r.isTerminated ? null : (r.exitCode ?? null) };
      });
    }
    // Without --duration, a finished load ends the run: what it cost is what was asked.
    if (loadResult !== null && plan.durationMs === null) await stop(child, done);
    if (now >= stopAt || plan.signal.aborted || Date.now() >= plan.deadline) await stop(child, done);
    await Promise.race([done, sleep(plan.sampleMs)]);
  }
  if (load) {
    if (loadResult === null) loadResult = { wallMs: Math.round(performance.now() - loadStarted), exitCode: null };
    load.kill('SIGTERM');
    await load;
  }
  const result = await done;
  return { peakRssBytes: peak, finalRssBytes: last, exitCode: result.exitCode ?? null, wallMs: Math.round(performance.now() - started), arenas, cpuMs, load: loadResult };
}

/** Politely (SIGTERM), then firmly (SIGKILL after 5 s). */
async function stop(child: ReturnType<typeof execa>, done: Promise<unknown>): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

/** The root and all its descendants, from /proc/PID/task/TID/children. */
async function tree(root: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    for (const tid of tids) {
      const children = await readFile(`/proc/${pid}/task/${tid}/children`, 'latin1').catch(() => '');
      for (const c of children.trim().split(/\s+/)) if (c) queue.push(Number(c));
    }
  }
  return out;
}

async function treeRss(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const statm = await readFile(`/proc/${pid}/statm`, 'latin1').catch(() => '');
    total += Number(statm.split(' ')[1] ?? 0) * PAGE;
  }
  return total;
}

/**
 * Arenas in use across the tree without stopping anything: the main arena plus every distinct
 * ar_ptr found in the heap_info at the start of a 64 MiB-aligned anonymous mapping.
 */
async function countArenas(pids: number[]): Promise<number | null> {
  let total = 0;
  for (const pid of pids) {
    const maps = await readFile(`/proc/${pid}/maps`, 'latin1').catch(() => null);
    if (maps === null || !/libc[.-]/.test(maps)) continue;
    const memory = await ProcMemory.open(pid);
    try {
      const owners = new Set<bigint>();
      for (const vma of parseSmaps(maps)) {
        if (vma.pathname !== '' || vma.start % HEAP_MAX !== 0n || !vma.perms.startsWith('rw')) continue;
        const header = await memory.u64pair(vma.start);
        if (header && header[0] > vma.start && header[0] < vma.start + HEAP_MAX) owners.add(header[0]);
      }
      total += 1 + owners.size;
    } finally {
      await memory.close();
    }
  }
  return total === 0 ? null : total;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
