import { analyse } from '../../analyse/inspect.js';
import { analyseTrim } from '../../analyse/trim.js';
import { demoTarget } from '../../collect/demo-target.js';
import { takeSnapshot } from '../../collect/pipeline.js';
import { SCHEMAS } from '../../contract.js';
import type { DemoReport } from '../../types.js';
import { mib } from '../../units.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap demo: a bundled fragmenting target, inspected, trimmed, inspected again: one document. */
export async function demo(ctx: RunContext): Promise<Outcome> {
  const target = await demoTarget(ctx);
  try {
    ctx.progress(`demo target running as pid ${target.pid}: 6 threads built ~20 MiB each, then freed 90% of it`);
    const first = await takeSnapshot(target.pid, { mode: 'inspect', deadline: ctx.deadline, signal: ctx.signal });
    const before = analyse(first.snapshot, first);
    ctx.progress(`inspect: ${mib(before.totals.heldFreeRssBytes)} of its ${mib(before.rss.total)} Rss is free memory glibc keeps resident; now calling malloc_trim(0) in it`);
    const taken = await takeSnapshot(target.pid, { mode: 'trim', pad: 0, deadline: ctx.deadline, signal: ctx.signal });
    const trim = analyseTrim(analyse(taken.snapshot, taken), 0, taken.snapshot.trim ?? null);
    const last = await takeSnapshot(target.pid, { mode: 'inspect', deadline: ctx.deadline, signal: ctx.signal });
    const after = analyse(last.snapshot, last);
    ctx.progress(`trim released ${mib(trim.releasedBytes ?? 0)} (inspect predicted ${mib(before.totals.predictedTrimBytes)}); what stays is live data, thread-arena tops and tcache`);
    const doc: DemoReport = { schema: SCHEMAS.demo, before, trim, after };
    return { doc, findings: after.findings };
  } finally {
    await target.stop();
  }
}
