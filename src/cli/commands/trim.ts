import { analyse } from '../../analyse/inspect.js';
import { analyseTrim, settledFigures } from '../../analyse/trim.js';
import { settle, takeSnapshot } from '../../collect/pipeline.js';
import type { AllocatorName } from '../../contract.js';
import { HeapgapError } from '../../errors.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap trim <pid>: the allocator's release call in the target, measured from smaps read in the same stop. */
export async function trim(pid: number, ctx: RunContext, opts: { pad: number; dryRun: boolean; settleMs: number; allocator?: AllocatorName }): Promise<Outcome> {
  const taken = await takeSnapshot(pid, { mode: opts.dryRun ? 'inspect' : 'trim', pad: opts.pad, deadline: ctx.deadline, signal: ctx.signal, onProgress: ctx.progress, ...(opts.allocator ? { allocator: opts.allocator } : {}) });
  if (!opts.dryRun && !taken.snapshot.trim) {
    // The driver stops before the release call when asked to; never pass that off as a dry run.
    const timedOut = ctx.signal.reason instanceof HeapgapError && ctx.signal.reason.code === 'TIMEOUT';
    throw new HeapgapError(timedOut ? 'TIMEOUT' : 'INTERRUPTED', `${timedOut ? 'timed out' : 'interrupted'} before the release call; nothing was trimmed and process ${pid} was detached cleanly`);
  }
  const report = analyseTrim(analyse(taken.snapshot, taken), opts.pad, taken.snapshot.trim ?? null);
  if (opts.settleMs > 0 && !opts.dryRun) {
    ctx.progress(`waiting ${opts.settleMs} ms for lazily freed pages to settle`);
    const later = await settle(pid, opts.settleMs, ctx.signal);
    report.settled = settledFigures(opts.settleMs, later.vmas, later.rollup);
  }
  return { doc: report, findings: report.findings };
}
