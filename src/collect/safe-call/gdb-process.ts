/**
 * gdb as a child process, started before heapgap has read the target: gdb's own start (Python, its
 * throwaway attach, the executable's symbols) then overlaps heapgap's work before attaching, instead
 * of following it. The driver waits for its parameters, which come later as a file renamed into
 * place (give()). Until then nothing is attached and gdb may simply be killed.
 *
 * Spawned with node's own spawn, not execa: takeSnapshot starts it first thing, and execa's module
 * costs more to load than gdb takes to start.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, constants as fsConstants, fstatSync, lstatSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { ASSETS, STOP_MARK, gdbArgs } from './gdb-argv.js';
import { gdbOnPath, pycacheEnv } from './gdb-path.js';
import { mark } from '../../marks.js';

/** How gdb ended. spawnError: it never started (not on PATH). */
export interface GdbRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError: Error | null;
}

/** gdb as heapgap sees it, whoever started it: its pid, its output, how it ended. */
interface Running {
  pid: number | undefined;
  stdout: Readable;
  stderr: Readable;
  /** exitCode/signal once gdb has exited and its output ended; spawnError when it never started. */
  ended: Promise<Pick<GdbRun, 'exitCode' | 'signal' | 'spawnError'>>;
  /** What keeps node's event loop alive for it (hold()). */
  handles: { ref?(): unknown; unref?(): unknown }[];
  /** false: this gdb cannot be used (an adopted one whose session directory never came right). */
  ready: Promise<boolean>;
}

/** The gdb main.js's sh line started (gdb-early.sh), named by HEAPGAP_EARLY_GDB. */
export interface Adopted {
  gdbPid: number;
  /** Its session directory, named after this process's pid (gdb-early.sh makes it: owned and checked). */
  dir: string;
}

export class GdbProcess {
  readonly dir: string;
  readonly files: { resultFile: string; abortFile: string; stateFile: string; gateFile: string };
  /** gdb's marks (gdb-argv.ts): what, and when (its monotonic clock when it gave one, in ms). */
  readonly marks = new Map<string, number>();
  lastMark = Date.now();
  onMark: ((what: string) => void) | null = null;
  readonly done: Promise<GdbRun>;
  /** false: this gdb cannot be used (it is being ended); take another. */
  readonly ready: Promise<boolean>;
  /** Settles once the driver has written its result (its `written` mark), or once gdb has ended. */
  readonly written: Promise<void>;
  private wrote = (): void => undefined;
  private readonly paramsFile: string;
  private readonly gdb: Running;
  /** Whether its directory is known to be heapgap's own (made by node, or checked): only then is it written to or removed. */
  private ownDir: boolean;

  constructor(readonly pid: number, readonly withExe: boolean, adopted: Adopted | null = null) {
    this.dir = adopted?.dir ?? mkdtempSync(join(tmpdir(), 'heapgap-'));
    this.files = { resultFile: join(this.dir, 'result.json'), abortFile: join(this.dir, 'abort'), stateFile: join(this.dir, 'state'), gateFile: join(this.dir, 'gate') };
    this.paramsFile = join(this.dir, 'params.json');
    this.ownDir = !adopted;
    if (adopted) {
      this.gdb = adoptedGdb(adopted);
      void this.gdb.ready.then((ok) => (this.ownDir = ok));
    } else {
      // the call token (driver.py take_gate): exists before gdb can look for it
      writeFileSync(this.files.gateFile, '');
      this.gdb = spawnedGdb(pid, withExe, this.dir, this.paramsFile);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let pending = '';
    this.gdb.stdout.on('data', (chunk: Buffer) => {
      out.push(chunk);
      const lines = (pending + chunk.toString('latin1')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.mark(line);
    });
    this.gdb.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    this.written = new Promise((resolve) => {
      this.wrote = resolve;
    });
    this.ready = this.gdb.ready;
    this.done = this.gdb.ended.then((end) => ({ ...end, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') }));
    void this.done.then(() => this.wrote());
  }

  private mark(line: string): void {
    if (!line.startsWith(STOP_MARK)) return;
    const [what, when] = line.slice(STOP_MARK.length).split(' ');
    if (!what) return;
    this.marks.set(what, when ? Number(when) * 1000 : Date.now());
    this.lastMark = Date.now();
    if (what === 'written') this.wrote();
    this.onMark?.(what);
  }

  /** The driver's parameters: written aside, then renamed, so the driver never reads half a file. */
  give(params: unknown): void {
    if (!this.ownDir) throw new Error(`${this.dir} is not heapgap's own directory`);
    writeFileSync(`${this.paramsFile}.tmp`, JSON.stringify(params));
    renameSync(`${this.paramsFile}.tmp`, this.paramsFile);
  }

  /**
   * SIGKILL to gdb's process group (gdb-argv.ts makes it its own first thing): gdb forks children to
   * probe ptrace on its first attach, which stop themselves; killed alone, gdb would leave them
   * stopped for good. Before that setpgid there is no group, and no child either.
   */
  kill(): void {
    const pid = this.gdb.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone (an adopted gdb stays a zombie until heapgap exits: its pid is not reused meanwhile)
      }
    }
  }

  /**
   * Ends a gdb that was never given its parameters without a signal: it finds "quit" instead
   * (driver.py) and exits by itself once loaded, whatever it was doing. heapgap need not wait for it.
   */
  quit(): void {
    try {
      // an adopted gdb is reached through its directory only when that is this user's own (mode 700)
      if (!this.ownDir && !isOwnDir(this.dir)) throw new Error('not its own directory');
      this.ownDir = true;
      this.give({ quit: true });
    } catch {
      this.kill(); // its directory is gone: no other way to reach it
    }
  }

  /** Whether gdb alone may keep heapgap running (an early gdb nobody took may not). */
  hold(held: boolean): void {
    for (const h of this.gdb.handles) {
      if (held) h.ref?.();
      else h.unref?.();
    }
  }

  /** After gdb exited (or was killed before attaching): its files go. */
  async dispose(): Promise<void> {
    if (this.ownDir || isOwnDir(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** gdb spawned by node, with its stdout and stderr on pipes. */
function spawnedGdb(pid: number, withExe: boolean, dir: string, paramsFile: string): Running {
  const gdb = gdbOnPath();
  // by its path when found: spawn's own search of PATH would find the same file
  const child = spawn(gdb?.path ?? 'gdb', gdbArgs({ pid, withExe }), {
    env: { ...process.env, ...pycacheEnv(gdb), HEAPGAP_PARAMS: paramsFile, HEAPGAP_PARENT: String(process.pid), HEAPGAP_ASSETS: ASSETS, LC_ALL: 'C' },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  mark('gdb-spawned');
  const ended = new Promise<Pick<GdbRun, 'exitCode' | 'signal' | 'spawnError'>>((resolve) => {
    let spawnError: Error | null = null;
    child.once('error', (e) => {
      spawnError = e;
      // no 'close' follows an error to spawn
      if (child.pid === undefined) resolve({ exitCode: null, signal: null, spawnError });
    });
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal, spawnError }));
  });
  // stdio pipes are sockets (net.Socket) underneath
  return { pid: child.pid, stdout: child.stdout!, stderr: child.stderr!, ended, handles: [child, child.stdout as Socket, child.stderr as Socket], ready: Promise.resolve(true) };
}

/**
 * The gdb main.js's sh line started: heapgap's child (sh became node by exec), but not one libuv
 * knows, so its end is read from its output's end and /proc: it stays a zombie, unreaped, until
 * heapgap exits (its pid cannot be reused meanwhile), and /proc/PID/stat's last field holds its wait
 * status. Its output is read once its shell has made the session directory ("ready"): usually long
 * before node gets here.
 */
function adoptedGdb(a: Adopted): Running {
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
    for (let i = 0; ; i++) {
      if (existsSync(join(a.dir, 'ready'))) {
        if (!isOwnDir(a.dir) || readFileSync(join(a.dir, 'ready'), 'latin1').trim() !== String(a.gdbPid)) return false;
        break;
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
      while (open && !gone()) await Promise.race([closed, wait(20)]);
      if (open) await Promise.race([closed, wait(50)]); // what it wrote last, still on its way
    }
    for (const socket of sockets) socket.destroy();
    if (!ok) {
      // not usable: ended before it can attach anything (gdb-argv.ts: its group is its own from its first line)
      for (const target of [-a.gdbPid, a.gdbPid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // no such group yet, or gone
        }
      }
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
      const st = stat.exitCode;
      if ((st & 0x7f) === 0) return { exitCode: (st >> 8) & 0xff, signal: null, spawnError: null };
      const name = Object.entries(constants.signals).find(([, n]) => n === (st & 0x7f))?.[0] ?? null;
      return { exitCode: null, signal: name as NodeJS.Signals | null, spawnError: null };
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return { exitCode: null, signal: null, spawnError: null };
}

function procStat(pid: number): { state: string; ppid: number; exitCode: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
    // after the command: state (field 3), ppid (4), ... exit_code (52)
    return { state: f[0] ?? '', ppid: Number(f[1]), exitCode: Number(f[49] ?? 0) };
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
  try {
    process.kill(adopted.gdbPid, 'SIGKILL'); // this process's unreaped child: its pid is not reused
  } catch {
    // gone
  }
  return null;
}

/** A directory (not a link) of this user's, that no one else can enter. */
function isOwnDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === (process.geteuid?.() ?? st.uid) && (st.mode & 0o777) === 0o700;
  } catch {
    return false;
  }
}

/** gdb started for a pid before heapgap read it (startEarly), not yet taken by a session. */
let early: Promise<GdbProcess> | null = null;
let earlyPid = 0;
/** The same, once spawned: what heapgap's exit must end (nothing is attached until a session takes it). */
let unclaimed: GdbProcess | null = null;
/** The gdb main.js's sh line started, for startEarly to take. */
let adopted: { pid: number; gdb: Adopted } | null = null;

/** Starts gdb for `pid` now, once; safeCall takes it (takeEarly). */
export function startEarly(pid: number): void {
  if (early && earlyPid === pid) return;
  void discardEarly();
  earlyPid = pid;
  const started = new Promise<GdbProcess>((resolve) => {
    const g = new GdbProcess(pid, true, adopted?.pid === pid ? adopted.gdb : null);
    adopted = null;
    g.hold(false);
    resolve(g);
  }).then((g) => {
    if (early === started) unclaimed = g;
    return g;
  });
  early = started;
  // a failure surfaces (and is handled) where a session takes it
  started.catch(() => undefined);
  // once for the process (`top --inspect N` starts one gdb per process it inspects)
  if (!process.listeners('exit').includes(endUnclaimed)) process.on('exit', endUnclaimed);
}

/**
 * The commands that attach (inspect, trim, capture) with the pid right after the command name: gdb
 * starts before the program's code is even loaded (main.ts). Anything else waits for takeSnapshot.
 */
export function startEarlyFromArgv(argv: readonly string[]): void {
  const pid = earlyPidOf(argv);
  const gdb = adoptEarly(pid);
  if (pid === null) return;
  // the sh line's gdb when it started one for this pid (checked by adoptEarly), else a new one
  adopted = gdb ? { pid, gdb } : null;
  startEarly(pid);
}

/** The pid gdb may be started for from the command line alone (node, script, command, pid, ...). */
export function earlyPidOf(argv: readonly string[]): number | null {
  const [command, pid] = argv.slice(2);
  if (!command || !['inspect', 'trim', 'capture'].includes(command) || !pid || !/^[1-9]\d{0,9}$/.test(pid)) return null;
  if (argv.some((a) => a === '-h' || a === '--help')) return null;
  return Number(pid);
}

function endUnclaimed(): void {
  unclaimed?.quit();
  unclaimed = null;
}

/** The early gdb for this pid when it was started with the same choice of executable, else null. */
export async function takeEarly(pid: number, withExe: boolean): Promise<GdbProcess | null> {
  if (!early || earlyPid !== pid) return null;
  const g = await early.catch(() => null);
  early = null;
  unclaimed = null;
  // held while its directory is awaited: nothing else may keep node running meanwhile
  g?.hold(true);
  if (g && g.withExe === withExe && (await g.ready)) return g;
  g?.hold(false);
  if (g) await ended(g);
  return null;
}

/** An early gdb nobody took (heapgap refused before attaching): asked to quit; it had attached nothing. */
export async function discardEarly(): Promise<void> {
  const p = early;
  early = null;
  unclaimed = null;
  const g = p ? await p.catch(() => null) : null;
  if (g) await ended(g);
}

/** Asked to quit and left to it (it attached nothing); its files go once it has read them. */
async function ended(g: GdbProcess): Promise<void> {
  g.quit();
  void g.done.then(() => g.dispose());
}
