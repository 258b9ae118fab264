/**
 * The gdb main.js's sh line started before node (gdb-early.sh), taken over by node: found by
 * HEAPGAP_EARLY_GDB (adoptEarly), its session directory checked as node's own before anything in it
 * is read or written, its output read from the FIFOs there, its end seen from them and from /proc
 * (adoptedGdb). gdb-process.ts runs it as it runs a gdb it spawned itself.
 */
import { closeSync, existsSync, constants as fsConstants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { mark } from '../../marks.js';
import { parseStat } from '../../parse/stat.js';
import type { ProcStat } from '../../parse/stat.js';
import type { GdbRun, Running } from './gdb-process.js';

/** The gdb main.js's sh line started (gdb-early.sh), named by HEAPGAP_EARLY_GDB. */
export interface Adopted {
  gdbPid: number;
  /** Its session directory, named after this process's pid (gdb-early.sh makes it: owned and checked). */
  dir: string;
}

/**
 * The gdb main.js's sh line started: heapgap's child (sh became node by exec), but not one libuv
 * knows, so its end is read from its output's end and /proc: it stays a zombie, unreaped, until
 * heapgap exits (its pid cannot be reused meanwhile), and /proc/PID/stat's last field holds its wait
 * status. Its output is read once its shell has made the session directory ("ready"): usually long
 * before node gets here.
 */
export function adoptedGdb(a: Adopted): Running {
  mark('gdb-adopted');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const sockets: Socket[] = [];
  let held = true;
  let poll: NodeJS.Timeout | null = null;
  const hold = (h: { ref(): unknown; unref(): unknown } | null) => (held ? h?.ref() : h?.unref());
  const handle = {
    ref: () => ((held = true), [...sockets, poll].forEach(hold)),
    unref: () => ((held = false), [...sockets, poll].forEach(hold)),
  };
  const wait = (ms: number) => new Promise((r) => hold((poll = setTimeout(r, ms))));
  const gone = () => {
    const st = procStat(a.gdbPid);
    return !st || st.state === 'Z' || st.state === 'X';
  };
  const ready = (async () => {
    // "ready" holds the pid of the shell that became gdb: a directory left by an earlier heapgap
    // with this pid is not taken for this one's. Nothing in the directory is read or written
    // before it is known to be this user's own (mode 700, not a link).
    // Its shell writes "ready" as sh's `>` does: created empty, then written; read before the
    // write it is empty, and is looked at again.
    for (let i = 0; ; i++) {
      if (existsSync(join(a.dir, 'ready'))) {
        if (!isOwnDir(a.dir)) return false;
        const said = readFileSync(join(a.dir, 'ready'), 'latin1');
        if (said.endsWith('\n')) {
          if (said !== `${a.gdbPid}\n`) return false;
          break;
        }
      }
      if (gone() || i >= 1000) return false; // its shell failed, or 2 s went by
      await wait(2);
    }
    for (const [name, into] of [['out', stdout], ['err', stderr]] as const) {
      const fd = openSync(join(a.dir, name), fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
      if (!fstatSync(fd).isFIFO()) {
        closeSync(fd);
        return false;
      }
      const socket = new Socket({ fd, readable: true, writable: false });
      sockets.push(socket);
      hold(socket);
      socket.pipe(into);
    }
    // Linux reports no hang-up on a FIFO whose last writer left before this reader opened it: a gdb
    // already gone (a broken one ends in milliseconds) would never be seen to end. It is passed over
    // then, and the gdb node starts itself fails the same way with its output kept.
    return !gone();
  })().catch(() => false);
  const ended = ready.then(async (ok) => {
    if (ok) {
      // Its end is the end of its output, or its exit seen in /proc: between closing its files and
      // becoming a zombie (the kernel does one, then the other) it may have looked alive above.
      const closed = Promise.all(sockets.map((sk) => new Promise((r) => sk.once('close', r))));
      let open = true;
      void closed.then(() => (open = false));
      // A timer that lost the race is cleared: a pending one holds node's exit until it fires
      // (measured: every run whose gdb turned zombie before its FIFOs were seen to close waited
      // the 50 ms out, and a 20 ms one often)
      const until = async (ms: number) => {
        await Promise.race([closed, wait(ms)]);
        if (poll) clearTimeout(poll);
      };
      while (open && !gone()) await until(20);
      if (open) await until(50); // what it wrote last, still on its way
    }
    for (const socket of sockets) socket.destroy();
    if (!ok) {
      killGroup(a.gdbPid); // not usable: ended before it can attach anything
    }
    stdout.end();
    stderr.end();
    return exitOf(a.gdbPid);
  });
  return { pid: a.gdbPid, stdout, stderr, ended, handles: [handle], ready };
}

/** A zombie child's exit status (/proc/PID/stat field 52), waited for while it is still exiting. */
async function exitOf(pid: number): Promise<Pick<GdbRun, 'exitCode' | 'signal' | 'spawnError'>> {
  for (let i = 0; i < 2000; i++) {
    const stat = procStat(pid);
    if (stat === null) break;
    if (stat.state === 'Z' || stat.state === 'X') {
      const st = stat.exitCode ?? 0;
      if ((st & 0x7f) === 0) return { exitCode: (st >> 8) & 0xff, signal: null, spawnError: null };
      const name = Object.entries(constants.signals).find(([, n]) => n === (st & 0x7f))?.[0] ?? null;
      return { exitCode: null, signal: name as NodeJS.Signals | null, spawnError: null };
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return { exitCode: null, signal: null, spawnError: null };
}

function procStat(pid: number): ProcStat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/**
 * The gdb main.js's sh line started for `pid`, when HEAPGAP_EARLY_GDB names one that is this
 * process's child. The variable is removed either way (heapgap's children must not see it). One
 * started for another command line (node and sh read it alike: it should not happen) is killed: it
 * has attached nothing, and its directory is not touched.
 */
export function adoptEarly(pid: number | null): Adopted | null {
  const said = process.env.HEAPGAP_EARLY_GDB;
  delete process.env.HEAPGAP_EARLY_GDB;
  const m = /^([1-9]\d{0,9}) ([1-9]\d{0,9}) (\/.*)$/.exec(said ?? '');
  // not this process's child: not heapgap's gdb, never touched
  if (!m || procStat(Number(m[1]))?.ppid !== process.pid) return null;
  const adopted = { gdbPid: Number(m[1]), dir: m[3]! };
  if (Number(m[2]) === pid && basename(adopted.dir) === `heapgap-early-${process.pid}`) return adopted;
  killGroup(adopted.gdbPid); // this process's unreaped child: its pid is not reused
  return null;
}

/** A directory (not a link) of this user's, that no one else can enter. */
export function isOwnDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === (process.geteuid?.() ?? st.uid) && (st.mode & 0o777) === 0o700;
  } catch {
    return false;
  }
}

/**
 * SIGKILL to gdb's process group (gdb-argv.ts makes it its own first thing), else to gdb alone:
 * before that setpgid there is no group, and no child either.
 */
export function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return;
    } catch {
      // no such group yet, or gone
    }
  }
}
