import { SCHEMAS } from '../../contract.js';
import { analyseTop, inspectCandidates, limitTop } from '../../analyse/top.js';
import { collectTop } from '../../collect/top/index.js';
import { HeapgapError } from '../../errors.js';
import { topHeader, topTable, TOP_FOOTNOTE } from '../../report/top/text.js';
import type { TopReport } from '../../types.js';
import type { Outcome, RunContext } from '../context.js';
import { inspect } from './inspect.js';

export interface TopOptions {
  limit: number | null;
  cgroup: string | null;
  pids: number[] | null;
  inspect: number;
  /** Live view: redraw every intervalMs until interrupted (or `count` passes). */
  live: boolean;
  intervalMs: number;
  count: number | null;
}

/** heapgap top: every readable process ranked by held-free memory, without stopping any. */
export async function top(ctx: RunContext, opts: TopOptions): Promise<Outcome> {
  if (opts.live) return liveTop(ctx, opts);
  const report = limitTop(analyseTop(await collectTop({ cgroup: opts.cgroup, pids: opts.pids, signal: ctx.signal, onProgress: ctx.progress })), opts.limit);
  await runInspections(report, opts.inspect, ctx);
  return { doc: report, findings: report.inspected.flatMap((r) => r.findings) };
}

/** `--inspect N`: the full inspect (one safe call each) of the first N glibc processes. */
async function runInspections(report: TopReport, n: number, ctx: RunContext): Promise<void> {
  for (const pid of inspectCandidates(report, n)) {
    if (ctx.signal.aborted) break;
    ctx.progress(`inspecting ${pid} (a short stop)`);
    try {
      const outcome = await inspect(pid, { ...ctx, deadline: Math.min(ctx.deadline, Date.now() + 30_000) });
      if (outcome.doc?.schema === SCHEMAS.inspect) report.inspected.push(outcome.doc);
    } catch (error) {
      if (!(error instanceof HeapgapError) || ctx.signal.aborted) throw error;
      report.inspectErrors.push({ pid, message: error.message });
      ctx.progress(`inspect ${pid} failed: ${error.message}`);
    }
  }
}

async function liveTop(ctx: RunContext, opts: TopOptions): Promise<Outcome> {
  let last: TopReport | null = null;
  for (let n = 0; !ctx.signal.aborted && (opts.count === null || n < opts.count); n++) {
    last = analyseTop(await collectTop({ cgroup: opts.cgroup, pids: opts.pids, signal: ctx.signal }));
    const rows = Math.max(5, (process.stdout.rows ?? 30) - 6);
    const screen = [`${topHeader(last)}   ${last.takenAt.slice(11, 19)}`, '', ...topTable(last, opts.limit ?? rows), '', TOP_FOOTNOTE, 'Ctrl-C to quit.'];
    process.stdout.write(`\u001b[H\u001b[2J${screen.join('\n')}\n`);
    if (opts.count !== null && n + 1 >= opts.count) break;
    await new Promise((r) => {
      const timer = setTimeout(r, opts.intervalMs);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), r(undefined)), { once: true });
    });
  }
  return { findings: [], raw: '' };
}
