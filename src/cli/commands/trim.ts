import { analyse } from '../../analyse/inspect.js';
import { analyseTrim } from '../../analyse/trim.js';
import { takeSnapshot } from '../../collect/pipeline.js';
import { HeapgapError } from '../../errors.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap trim <pid>: the allocator's release call in the target, measured from smaps read in the same stop. */
export async function trim(pid: number, ctx: RunContext, opts: { pad: number; dryRun: boolean }): Promise<Outcome> {
  const taken = await takeSnapshot(pid, { mode: opts.dryRun ? 'inspect' : 'trim', pad: opts.pad, deadline: ctx.deadline, signal: ctx.signal, onProgress: ctx.progress });
  if (!opts.dryRun && !taken.snapshot.trim) {
    // The driver stops before malloc_trim when asked to; never pass that off as a dry run.
    const timedOut = ctx.signal.reason instanceof HeapgapError && ctx.signal.reason.code === 'TIMEOUT';
    throw new HeapgapError(timedOut ? 'TIMEOUT' : 'INTERRUPTED', `${timedOut ? 'timed out' : 'interrupted'} before malloc_trim; nothing was trimmed and process ${pid} was detached cleanly`);
  }
  const report = analyseTrim(analyse(taken.snapshot, taken), opts.pad, taken.snapshot.trim ?? null);
  return { doc: report, findings: report.findings };
}
