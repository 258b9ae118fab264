// Independent readings of /proc for tests: process state and smaps.
// Nothing here uses heapgap's own code, so it can check heapgap's figures.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProcState {
  /** false when /proc/PID is gone or the process is a zombie (Z) / dead (X). */
  alive: boolean;
  /** One-letter state from /proc/PID/status ("S", "R", "T", "t", "Z", ...), null if gone. */
  state: string | null;
  /** TracerPid from /proc/PID/status (0 = not traced), null if gone. */
  tracerPid: number | null;
  /** Threads from /proc/PID/status, null if gone. */
  threads: number | null;
}

/** State of a process for after-checks (not traced, not stopped, still alive). */
export function procState(pid: number): ProcState {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { alive: false, state: null, tracerPid: null, threads: null };
  }
  const field = (name: string): string | null => {
    const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text);
    return m?.[1]?.trim() ?? null;
  };
  const state = field('State')?.charAt(0) ?? null;
  const tracer = field('TracerPid');
  const threads = field('Threads');
  return {
    alive: state !== null && state !== 'Z' && state !== 'X',
    state,
    tracerPid: tracer === null ? null : Number(tracer),
    threads: threads === null ? null : Number(threads),
  };
}

/** Targets of the process's open fds (e.g. to check no "/memfd:..." fd was left behind). */
export function procFds(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    try {
      out.push(readlinkSync(`${dir}/${n}`));
    } catch {
      // fd closed meanwhile
    }
  }
  return out;
}

export interface Vma {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  dev: string;
  inode: number;
  /** Path or pseudo-name ("[heap]", "[stack]", "[anon: ...]"); "" for plain anonymous memory. */
  name: string;
  /** Every "Key: N kB" field of the entry, in bytes (Rss, Pss, Anonymous, Swap, ...). */
  kb: Record<string, number>;
  /** Rss in bytes. */
  rss: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+(\S+)\s+(\d+)\s*(.*)$/;

/** Parse smaps text (as found in /proc/PID/smaps). */
export function parseSmaps(text: string): Vma[] {
  const vmas: Vma[] = [];
  let cur: Vma | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      cur = {
        start: BigInt(`0x${h[1]}`),
        end: BigInt(`0x${h[2]}`),
        perms: h[3] ?? '',
        offset: BigInt(`0x${h[4]}`),
        dev: h[5] ?? '',
        inode: Number(h[6]),
        name: h[7] ?? '',
        kb: {},
        rss: 0,
      };
      vmas.push(cur);
      continue;
    }
    const f = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (f && cur) {
      const bytes = Number(f[2]) * 1024;
      cur.kb[f[1] ?? ''] = bytes;
      if (f[1] === 'Rss') cur.rss = bytes;
    }
  }
  return vmas;
}

export function readSmaps(pid: number): Vma[] {
  return parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
}

/** Anonymous private memory without a name (thread heaps, mmapped chunks, stacks, ...). */
export function isPlainAnon(v: Vma): boolean {
  return v.inode === 0 && v.name === '' && v.perms.endsWith('p');
}

/** VMAs that intersect [start, end). */
export function vmasIn(vmas: readonly Vma[], start: bigint, end: bigint): Vma[] {
  return vmas.filter((v) => v.start < end && v.end > start);
}

/** Processes whose command line is heapgap's gdb for this target (gdb's forks keep its argv): "pid state". */
export function gdbsFor(target: number): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      // by its path (gdb-path.ts gdbOnPath) or by name
      // its attach (gdb-argv.ts: made by the driver, heapgap_attach(PID); the floor's, plain)
      if (/(^|\/)gdb$/.test(argv[0] ?? '') && argv.some((a) => a === `attach ${target}` || a === `python heapgap.heapgap_attach(${target})`)) out.push(`${pid} ${procState(Number(pid)).state}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** gdbsFor, once heapgap's gdb has had 5 s to end by itself (an unused one quits once loaded). */
export async function gdbsLeftFor(target: number): Promise<string[]> {
  let left = gdbsFor(target);
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = gdbsFor(target);
  }
  return left;
}
