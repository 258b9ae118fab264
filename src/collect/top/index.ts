import { HeapgapError } from '../../errors.js';
import { onlineCpus } from '../procfs.js';
import { allProcesses, cgroupProcesses } from './process-list.js';
import { MEMORY_UNREADABLE, sampleProcess } from './process-sample.js';
import type { ProcessSample, SampleContext } from './process-sample.js';

/** Everything one `top` pass read, before analysis. */
export interface TopSamples {
  takenAt: string;
  durationMs: number;
  cpus: number;
  cgroup: string | null;
  samples: ProcessSample[];
  skipped: { unreadable: number; exited: number; kernel: number };
}

export interface TopCollectOptions {
  cgroup: string | null;
  /** Only these processes (with or without a cgroup). */
  pids?: number[] | null;
  signal?: AbortSignal;
  onProgress?: (msg: string) => void;
  /** Free-list chunks read per process at most (default 200,000). */
  chunkBudget?: number;
}

/** One pass over the host (or a cgroup): no process is stopped, each is read in turn. */
export async function collectTop(opts: TopCollectOptions): Promise<TopSamples> {
  const started = Date.now();
  const scope = opts.cgroup === null ? null : await cgroupProcesses(opts.cgroup);
  const listed = scope ? scope.pids : await allProcesses();
  const pids = opts.pids ? (scope ? listed.filter((p) => opts.pids!.includes(p)) : opts.pids) : listed;
  opts.onProgress?.(`reading ${pids.length} processes${scope ? ` in ${scope.dir}` : ''} (no process is stopped)`);
  const ctx: SampleContext = { libcs: new Map(), chunkBudget: opts.chunkBudget ?? 200_000 };
  const samples: ProcessSample[] = [];
  const skipped = { unreadable: 0, exited: 0, kernel: 0 };
  for (const pid of pids) {
    if (opts.signal?.aborted) break;
    const outcome = await sampleProcess(pid, ctx);
    if ('sample' in outcome) samples.push(outcome.sample);
    else skipped[outcome.skipped]++;
  }
  if (opts.pids && samples.length === 0) {
    throw new HeapgapError(skipped.unreadable > 0 ? 'PTRACE_DENIED' : 'NO_SUCH_PROCESS', `none of the processes ${opts.pids.join(', ')} could be read (${skipped.unreadable} unreadable, ${skipped.exited} gone, ${skipped.kernel} kernel threads)`, {
      hint: 'check the pids with `ps -p PID`; reading another user\'s process needs root or CAP_SYS_PTRACE.',
    });
  }
  const durationMs = Date.now() - started;
  const blind = samples.filter((s) => s.note === MEMORY_UNREADABLE).length;
  if (blind > 0) opts.onProgress?.(`${blind} glibc process(es) without arena figures: /proc/PID/mem is not readable (reading it needs ptrace rights: root with CAP_SYS_PTRACE, or the process's own user; no process is traced)`);
  opts.onProgress?.(`read ${samples.length} processes in ${(durationMs / 1000).toFixed(2)} s (${skipped.unreadable} unreadable, ${skipped.exited} exited, ${skipped.kernel} kernel threads)`);
  return { takenAt: new Date(started).toISOString(), durationMs, cpus: await onlineCpus(), cgroup: scope?.dir ?? null, samples, skipped };
}
