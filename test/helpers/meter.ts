// Targets that time their own stalls (fixtures/targets/meter.h): start one, ask it what its ticker
// threads felt, and find the gap that covers a given stop.
//
//   const m = await startMeter('big-heap', ['256', '2', '3']);
//   await m.ask();                        // reset
//   ... stop the target ...
//   const felt = feltStop(await m.ask(), from, to);
//   await m.stop();
import { execa } from 'execa';
import { buildTarget } from './targets.js';

export interface TickerReport {
  tid: number;
  maxGapMs: number;
  /** CLOCK_MONOTONIC seconds of the longest gap's start and end. */
  from: number;
  to: number;
  ticks: number;
  /** The ticker's last gaps of 2 ms or more, [from, to] in monotonic seconds. */
  gaps: [number, number][];
}

export interface MeterReport {
  seq: number;
  maxGapMs: number;
  ticks: number;
  tickers: TickerReport[];
}

export interface Meter {
  pid: number;
  ready: Record<string, unknown>;
  /** Asks for a report (SIGUSR1); the target resets its figures. */
  ask(): Promise<MeterReport>;
  alive(): boolean;
  stop(): Promise<void>;
}

const running = new Set<Meter>();
process.once('exit', () => {
  for (const m of running) {
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export async function stopAllMeters(): Promise<void> {
  await Promise.all([...running].map((m) => m.stop()));
}

/** Builds fixtures/targets/<name>.c and starts it; waits for its ready line (builds can be slow). */
export async function startMeter(name: string, args: string[], readyTimeoutMs = 120_000): Promise<Meter> {
  const bin = await buildTarget(name);
  // Its own session, as a service has: in the test's session it would share a scheduler autogroup
  // with heapgap, and heapgap's CPU before and after the stop would show up as the target's stalls.
  const child = execa(bin, args, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, cleanup: true, detached: true });
  const lines: Record<string, unknown>[] = [];
  const other: string[] = [];
  const waiters: (() => void)[] = [];
  let exited = false;
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.startsWith('stall-meter ')) lines.push(JSON.parse(line.slice('stall-meter '.length)) as Record<string, unknown>);
      else if (other.length < 50) other.push(line);
      for (const w of waiters.splice(0)) w();
    }
  });
  void child.then(() => {
    exited = true;
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Record<string, unknown>) => boolean, what: string, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (exited) throw new Error(`${name} exited while waiting for ${what}: ${other.join('\n')}`);
      if (Date.now() > end) throw new Error(`${name}: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  const ready = await next((m) => m.ready === true, 'ready line', readyTimeoutMs).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const pid = ready.pid as number;
  let seq = 0;
  const meter: Meter = {
    pid,
    ready,
    async ask() {
      process.kill(pid, 'SIGUSR1');
      const m = (await next((x) => typeof x.seq === 'number' && x.seq > seq, 'stall report', 15_000)) as unknown as MeterReport;
      seq = m.seq;
      return m;
    },
    alive: () => !exited,
    async stop() {
      running.delete(meter);
      if (exited) return;
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child;
      clearTimeout(timer);
    },
  };
  running.add(meter);
  return meter;
}

/**
 * What the target's threads felt of a stop that lasted (at most) from..to (monotonic seconds): per
 * ticker, the longest of its gaps that overlaps that window, in ms (0 when none did).
 */
export function feltStop(report: MeterReport, from: number, to: number): number[] {
  return report.tickers.map((t) => Math.max(0, ...t.gaps.filter(([a, b]) => b > from && a < to).map(([a, b]) => (b - a) * 1000)));
}
