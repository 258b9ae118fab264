// fixtures/targets/corrupt-heap.c for tests: start it with one kind of corruption, read what it
// says it corrupted, ask its arena's thread for a malloc that needs the arena lock, and read its
// state from /proc (the arena's mutex word, CPU time) without heapgap's code.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { buildTarget } from './targets.js';

export const KINDS = ['fastbin-misaligned', 'fastbin-double-free', 'smallbin-cyclic', 'broken-links', 'bad-size', 'top'] as const;
export type Kind = (typeof KINDS)[number] | 'none';
export type Mode = 'single' | 'main' | 'thread';

export interface CorruptTruth {
  pid: number;
  kind: Kind;
  mode: Mode;
  /** The thread whose arena was corrupted. */
  tid: number;
  /** That arena's malloc_state. */
  arena: string;
  /** The corrupted chunk (its header address), "0" for none. */
  chunk: string;
  list: 'fastbin' | 'smallbin' | 'largebin' | 'top' | 'none';
  bin: number;
  field: 'fd' | 'size' | '-';
  /** Kind none: the chunks it freed into fastbins and bins. */
  free: { fastChunks: number; fastBytes: number; binChunks: number; binBytes: number };
}

export interface CorruptTarget {
  pid: number;
  truth: CorruptTruth;
  stderr(): string;
  /** Asks for one probe; true when "malloc ok" came back within `ms`. */
  probe(ms?: number): Promise<boolean>;
  /** The corrupted arena's mutex word (malloc_state offset 0), read through /proc/PID/mem. */
  mutex(): number;
  /** utime + stime of the whole process, in clock ticks. */
  cpuTicks(): number;
  stop(): Promise<void>;
}

const started = new Set<ChildProcessWithoutNullStreams>();
process.once('exit', () => {
  for (const c of started) c.kill('SIGKILL');
});

export async function startCorrupt(kind: Kind, mode: Mode): Promise<CorruptTarget> {
  const bin = await buildTarget('corrupt-heap');
  const child = spawn(bin, [kind, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const lines = () => out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  const until = async (ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok() && Date.now() < end && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, Math.max(1, Math.min(50, end - Date.now())));
      });
    }
    return ok();
  };
  if (!(await until(() => lines().length > 0, 20_000))) {
    child.kill('SIGKILL');
    throw new Error(`corrupt-heap ${kind} ${mode} did not get ready: ${err}`);
  }
  const truth = lines()[0] as unknown as CorruptTruth;
  let probes = 0;
  return {
    pid: truth.pid,
    truth,
    stderr: () => err,
    probe: async (ms = 5_000) => {
      probes++;
      child.stdin.write('probe\n');
      const want = probes;
      return until(() => lines().some((l) => l.probe === 'malloc ok' && l.n === want), ms);
    },
    mutex: () => readWord(truth.pid, BigInt(truth.arena)),
    cpuTicks: () => {
      const stat = readFileSync(`/proc/${truth.pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(f[11]) + Number(f[12]);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
      started.delete(child);
    },
  };
}

function readWord(pid: number, addr: bigint): number {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(4);
    readSync(fd, buf, 0, 4, addr);
    return buf.readInt32LE(0);
  } finally {
    closeSync(fd);
  }
}
