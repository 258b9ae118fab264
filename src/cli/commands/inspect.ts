import { takeSnapshot } from '../../collect/pipeline.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap inspect <pid>: one snapshot, analysed. */
export async function inspect(pid: number, ctx: RunContext, callBudgetMs?: number, jvmJcmd = false): Promise<Outcome> {
  // The analysis (with the XML parser) is compiled while gdb starts, not before it, not after it.
  let analysis: Promise<typeof import('../../analyse/inspect.js')> | null = null;
  const taken = await takeSnapshot(pid, {
    whileGdbRuns: () => {
      analysis = import('../../analyse/inspect.js');
      analysis.catch(() => undefined); // a failure is met again below, where it is awaited
    },
    mode: 'inspect',
    deadline: ctx.deadline,
    signal: ctx.signal,
    onProgress: ctx.progress,
    ...(callBudgetMs ? { callBudgetMs } : {}),
    jvmJcmd,
  });
  const { analyse } = await (analysis ?? import('../../analyse/inspect.js'));
  const report = analyse(taken.snapshot, taken);
  return { doc: report, findings: report.findings };
}
