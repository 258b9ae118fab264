import { analyse } from '../../analyse/inspect.js';
import { watchSummary, watchTick } from '../../analyse/watch.js';
import type { WatchTick } from '../../analyse/watch.js';
import { takeSnapshot } from '../../collect/snapshot.js';
import { preflight } from '../../collect/gdb.js';
import { sampleRss } from '../../collect/watch-sample.js';
import { HeapgapError } from '../../errors.js';
import { summaryText, tickLine, tickScreen } from '../../report/watch.js';
import type { InspectReport } from '../../types.js';
import type { Outcome, RunContext } from '../context.js';

export interface WatchOptions {
  intervalMs: number;
  mallocInfoEveryMs: number | null;
  count: number | null;
  json: boolean;
}

/** heapgap watch: Rss per layer and per arena over time; ticks stream to stdout, a summary at the end. */
export async function watch(pid: number, ctx: RunContext, opts: WatchOptions): Promise<Outcome> {
  await preflight(pid);
  const live = process.stdout.isTTY === true && !opts.json;
  const started = Date.now();
  const ticks: WatchTick[] = [];
  let latest: InspectReport | null = null;
  let lastInfo = -Infinity;
  let heapMax = 64 * 1024 * 1024;
  while (!ctx.signal.aborted && (opts.count === null || ticks.length < opts.count)) {
    const due = opts.mallocInfoEveryMs !== null && Date.now() - lastInfo >= opts.mallocInfoEveryMs;
    if (due) {
      try {
        const taken = await takeSnapshot(pid, { mode: 'inspect', deadline: ctx.deadline, signal: ctx.signal });
        latest = analyse(taken.snapshot, taken);
        heapMax = taken.snapshot.heapMax;
      } catch (error) {
        if (ctx.signal.aborted) break;
        if (error instanceof HeapgapError && (error.code === 'NO_SAFE_THREAD' || error.code === 'CALL_TIMEOUT' || error.code === 'TARGET_BUSY')) ctx.progress(`malloc_info skipped this time: ${error.message}`);
        else throw error;
      }
      lastInfo = Date.now();
    }
    let sample;
    try {
      sample = await sampleRss(pid, heapMax);
    } catch (error) {
      if (ticks.length > 0 && error instanceof HeapgapError && error.code === 'NO_SUCH_PROCESS') {
        ctx.progress(`process ${pid} exited`);
        break;
      }
      throw error;
    }
    const tick = watchTick(pid, sample, started, latest, due && latest !== null);
    ticks.push(tick);
    process.stdout.write(opts.json ? `${JSON.stringify(tick)}\n` : live ? tickScreen(tick, ticks[0]!) : tickLine(tick));
    if (opts.count !== null && ticks.length >= opts.count) break;
    await new Promise((r) => {
      const timer = setTimeout(r, opts.intervalMs);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), r(undefined)), { once: true });
    });
  }
  const summary = watchSummary(ticks);
  return { findings: latest?.findings ?? [], raw: opts.json ? `${JSON.stringify(summary)}\n` : summaryText(summary) };
}
