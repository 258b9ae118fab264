import { measureRun } from '../../collect/experiment.js';
import type { RunMeasure } from '../../collect/experiment.js';
import { SCHEMAS } from '../../contract.js';
import { mib as mb } from '../../units.js';
import { HeapgapError } from '../../errors.js';
import type { ExperimentReport, ExperimentRun } from '../../types.js';
import type { Outcome, RunContext } from '../context.js';

export interface ExperimentOptions {
  arenaMax: string;
  via: 'env' | 'tunables';
  repeat: number;
  durationMs: number | null;
  load: string | null;
  warmupMs: number;
  sampleMs: number;
}

/** heapgap experiment: the workload once per MALLOC_ARENA_MAX value (x --repeat), side by side. */
export async function experiment(command: string[], ctx: RunContext, opts: ExperimentOptions): Promise<Outcome> {
  const values = parseArenaList(opts.arenaMax);
  const runs: ExperimentRun[] = [];
  for (const value of values) {
    const measures: RunMeasure[] = [];
    for (let i = 0; i < opts.repeat; i++) {
      if (ctx.signal.aborted) throw new HeapgapError('INTERRUPTED', 'experiment interrupted; the runs so far were stopped');
      ctx.progress(`run ${value === 'default' ? 'default' : `arena max ${value}`} (${i + 1}/${opts.repeat}): ${command.join(' ')}`);
      const m = await measureRun({
        command,
        env: envFor(value, opts.via),
        sampleMs: opts.sampleMs,
        durationMs: opts.durationMs,
        load: opts.load ? { command: opts.load, warmupMs: opts.warmupMs } : null,
        signal: ctx.signal,
        deadline: ctx.deadline,
      });
      ctx.progress(`  peak ${mb(m.peakRssBytes)}, final ${mb(m.finalRssBytes)}, ${m.arenas ?? '?'} arenas, exit ${m.exitCode ?? '-'}, ${(m.wallMs / 1000).toFixed(1)} s, cpu ${(m.cpuMs / 1000).toFixed(2)} s${m.load ? `, load ${(m.load.wallMs / 1000).toFixed(2)} s exit ${m.load.exitCode ?? 'killed'}` : ''}`);
      measures.push(m);
    }
    runs.push({
      arenaMax: value,
      peakRssBytes: median(measures.map((m) => m.peakRssBytes)),
      finalRssBytes: median(measures.map((m) => m.finalRssBytes)),
      exitCode: measures[measures.length - 1]!.exitCode,
      wallMs: median(measures.map((m) => m.wallMs)),
      arenas: measures.some((m) => m.arenas !== null) ? median(measures.map((m) => m.arenas ?? 0)) : null,
      repeats: measures.length,
      savingVsDefault: null,
      cpuMs: median(measures.map((m) => m.cpuMs)),
      ...(opts.load ? { load: loadOf(measures) } : {}),
    });
  }
  const base = runs.find((r) => r.arenaMax === 'default');
  if (base && base.peakRssBytes > 0) {
    for (const r of runs) {
      if (r === base) continue;
      const peakBytes = base.peakRssBytes - r.peakRssBytes;
      r.savingVsDefault = { peakBytes, finalBytes: base.finalRssBytes - r.finalRssBytes, peakRatio: peakBytes / base.peakRssBytes };
    }
  }
  const doc: ExperimentReport = { schema: SCHEMAS.experiment, command, runs };
  return { doc, findings: [] };
}

export function parseArenaList(list: string): (number | 'default')[] {
  const values = list.split(',').map((v) => v.trim()).filter(Boolean).map((v) => {
    if (v === 'default') return 'default' as const;
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1024) throw new HeapgapError('USAGE', `--arena-max: expected positive integers or "default", got "${v}"`);
    return Number(v);
  });
  if (values.length === 0) throw new HeapgapError('USAGE', '--arena-max needs at least one value, e.g. 1,2,4,default');
  return values;
}

/** The environment for one run; "default" also clears a cap inherited from heapgap's own environment. */
function envFor(value: number | 'default', via: 'env' | 'tunables'): Record<string, string | undefined> {
  const inherited = (process.env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t && !t.startsWith('glibc.malloc.arena_max='));
  if (value === 'default') return { MALLOC_ARENA_MAX: undefined, GLIBC_TUNABLES: inherited.join(':') || undefined };
  if (via === 'env') return { MALLOC_ARENA_MAX: String(value), GLIBC_TUNABLES: inherited.join(':') || undefined };
  return { MALLOC_ARENA_MAX: undefined, GLIBC_TUNABLES: [...inherited, `glibc.malloc.arena_max=${value}`].join(':') };
}

/** The load of the median run by load time; its exit code is that run's. */
function loadOf(measures: RunMeasure[]): { wallMs: number; exitCode: number | null } {
  const loads = measures.map((m) => m.load ?? { wallMs: 0, exitCode: null });
  return { wallMs: median(loads.map((l) => l.wallMs)), exitCode: loads[loads.length - 1]!.exitCode };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

