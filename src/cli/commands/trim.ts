import { analyse } from '../../analyse/inspect.js';
import { analyseTrim } from '../../analyse/trim.js';
import { takeSnapshot } from '../../collect/snapshot.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap trim <pid>: malloc_trim(pad) in the target, measured from smaps read in the same stop. */
export async function trim(pid: number, ctx: RunContext, opts: { pad: number; dryRun: boolean }): Promise<Outcome> {
  const taken = await takeSnapshot(pid, { mode: opts.dryRun ? 'inspect' : 'trim', pad: opts.pad, deadline: ctx.deadline, signal: ctx.signal, onProgress: ctx.progress });
  const report = analyseTrim(analyse(taken.snapshot, taken), opts.pad, taken.trim ? { smaps: taken.trim.smapsAfter, returned: taken.trim.returned } : null);
  return { doc: report, findings: report.findings };
}
