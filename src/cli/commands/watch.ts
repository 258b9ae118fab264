import { analyse } from '../../analyse/inspect.js';
import { watchSummary, watchTick } from '../../analyse/watch.js';
import type { WatchTick } from '../../analyse/watch.js';
import { takeSnapshot } from '../../collect/pipeline.js';
import { preflight } from '../../collect/safe-call/index.js';
import { sampleRss } from '../../allocators/glibc/watch-sample.js';
import { HeapgapError } from '../../errors.js';
import { tickLine, tickScreen } from '../../report/watch.js';
import type { Format } from '../../contract.js';
import { DEFAULT_HEAP_MAX } from '../../allocators/glibc/layout.js';
import type { InspectReport } from '../../types.js';
import type { Outcome, RunContext } from '../context.js';

export interface WatchOptions {
  intervalMs: number;
  mallocInfoEveryMs: number | null;
  count: number | null;
  /** --format: text and json stream each tick (lines, NDJSON); other formats write only the summary. */
  format: Format;
}

/** heapgap watch: Rss per layer and per arena over time; ticks stream to stdout, a summary at the end. */
export async function watch(pid: number, ctx: RunContext, opts: WatchOptions): Promise<Outcome> {
  await preflight(pid);
  const live = process.stdout.isTTY === true && opts.format === 'text';
  const stream = opts.format === 'text' || opts.format === 'json';
  const started = Date.now();
  const ticks: WatchTick[] = [];
  let latest: InspectReport | null = null;
  let lastInfo = -Infinity;
  let heapMax = DEFAULT_HEAP_MAX;
  while (!ctx.signal.aborted && (opts.count === null || ticks.length < opts.count)) {
    const due = opts.mallocInfoEveryMs !== null && Date.now() - lastInfo >= opts.mallocInfoEveryMs;
    if (due) {
      try {
        const taken = await takeSnapshot(pid, { mode: 'inspect', deadline: ctx.deadline, signal: ctx.signal });
        latest = analyse(taken.snapshot, taken);
        heapMax = taken.snapshot.sections.glibc?.heapMax ?? heapMax;
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
    if (stream) process.stdout.write(opts.format === 'json' ? `${JSON.stringify(tick)}\n` : live ? tickScreen(tick, ticks[0]!) : tickLine(tick));
    else ctx.progress(tickLine(tick).trimEnd());
    if (opts.count !== null && ticks.length >= opts.count) break;
    await new Promise((r) => {
      const timer = setTimeout(r, opts.intervalMs);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), r(undefined)), { once: true });
    });
  }
  // The summary is one document in the asked format; after NDJSON ticks it is one more JSON line.
  const summary = watchSummary(ticks);
  return { doc: summary, findings: latest?.findings ?? [], ...(opts.format === 'json' ? { raw: `${JSON.stringify(summary)}\n` } : {}) };
}
