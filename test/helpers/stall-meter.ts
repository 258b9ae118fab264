// fixtures/targets/stall-meter.c as a test target: it measures its own longest gap between 1 ms
// ticks, reported (and reset) on SIGUSR1, on stderr.
import { execa } from 'execa';
import { buildTarget } from './targets.js';

export interface StallMeter {
  pid: number;
  /** Longest gap (ms) since the previous call (or the start); resets the meter. */
  maxGapMs(): Promise<number>;
  stop(): Promise<void>;
}

export async function startStallMeter(workers = 3): Promise<StallMeter> {
  const bin = await buildTarget('stall-meter');
  const proc = execa(bin, [String(workers)], { stdin: 'ignore', stdout: 'ignore', buffer: false, reject: false, cleanup: true, forceKillAfterDelay: 3000 });
  const messages: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let carry = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    carry += d;
    for (let nl = carry.indexOf('\n'); nl >= 0; nl = carry.indexOf('\n')) {
      const line = carry.slice(0, nl);
      carry = carry.slice(nl + 1);
      if (line.startsWith('stall-meter ')) messages.push(JSON.parse(line.slice(12)) as Record<string, unknown>);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const next = async (pick: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const i = messages.findIndex(pick);
      if (i >= 0) return messages.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error('stall-meter did not answer');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  await next((m) => m.ready === true);
  const pid = proc.pid!;
  return {
    pid,
    maxGapMs: async () => {
      process.kill(pid, 'SIGUSR1');
      return Number((await next((m) => typeof m.seq === 'number')).maxGapMs);
    },
    stop: async () => {
      proc.kill('SIGTERM');
      await proc;
    },
  };
}
