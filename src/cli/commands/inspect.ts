import { takeSnapshot } from '../../collect/pipeline.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap inspect <pid>: one snapshot, analysed. */
export async function inspect(pid: number, ctx: RunContext, callBudgetMs?: number, jvmJcmd = false): Promise<Outcome> {
  const taken = await takeSnapshot(pid, {
    mode: 'inspect',
    deadline: ctx.deadline,
    signal: ctx.signal,
    onProgress: ctx.progress,
    ...(callBudgetMs ? { callBudgetMs } : {}),
    jvmJcmd,
  });
  // The analysis (with the XML parser) is loaded after the snapshot, not compiled before gdb starts.
  const { analyse } = await import('../../analyse/inspect.js');
  const report = analyse(taken.snapshot, taken);
  return { doc: report, findings: report.findings };
}
