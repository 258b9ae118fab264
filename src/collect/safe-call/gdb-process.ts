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
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { adoptEarly, adoptedGdb, isOwnDir, killGroup } from './gdb-adopted.js';
import type { Adopted } from './gdb-adopted.js';
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
export interface Running {
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
  /** The directory node made for it (null: the sh line's gdb, whose directory is checked, ownDir). */
  private readonly made: string | null;
  /**
   * Started by main.js's sh line: node's child, but not one libuv knows, so node cannot reap it.
   * Whether node waits for its exit changes nothing then: it is reaped by whoever inherits it.
   */
  readonly adopted: boolean;

  constructor(readonly pid: number, readonly withExe: boolean, adopted: Adopted | null = null) {
    this.adopted = adopted !== null;
    this.made = adopted ? null : mkdtempSync(join(tmpdir(), 'heapgap-'));
    this.dir = adopted?.dir ?? this.made!;
    this.files = { resultFile: join(this.dir, 'result.json'), abortFile: join(this.dir, 'abort'), stateFile: join(this.dir, 'state'), gateFile: join(this.dir, 'gate') };
    this.paramsFile = join(this.dir, 'params.json');
    if (adopted) this.gdb = adoptedGdb(adopted);
    else {
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
    if (!this.ownDir()) throw new Error(`${this.dir} is not heapgap's own directory`);
    writeFileSync(`${this.paramsFile}.tmp`, JSON.stringify(params));
    renameSync(`${this.paramsFile}.tmp`, this.paramsFile);
  }

  /**
   * SIGKILL to gdb's process group (gdb-argv.ts makes it its own first thing): gdb forks children to
   * probe ptrace on its first attach, which stop themselves; killed alone, gdb would leave them
   * stopped for good. Before that setpgid there is no group, and no child either.
   */
  kill(): void {
    // (an adopted gdb stays a zombie until heapgap exits: its pid is not reused meanwhile)
    if (this.gdb.pid !== undefined) killGroup(this.gdb.pid);
  }

  /**
   * Ends a gdb that was never given its parameters without a signal: it finds "quit" instead
   * (driver.py) and exits by itself once loaded, whatever it was doing. heapgap need not wait for it.
   */
  quit(): void {
    try {
      this.give({ quit: true }); // refused for a directory not heapgap's own
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
    if (this.ownDir()) rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Whether its directory may be written to and removed: node made it, or (a directory the sh line's
   * gdb was given) it is this user's own, mode 700, not a link. A foreign one is never touched.
   */
  private ownDir(): boolean {
    return this.dir === this.made || isOwnDir(this.dir);
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

/** gdb started for a pid before heapgap read it (startEarly), not yet taken by a session. */
let early: Promise<GdbProcess> | null = null;
let earlyPid = 0;
/** The same, once spawned: what heapgap's exit must end (nothing is attached until a session takes it). */
let unclaimed: GdbProcess | null = null;

/** Starts gdb for `pid` now (or takes the one main.js's sh line started, `from`), once; safeCall takes it (takeEarly). */
export function startEarly(pid: number, from: Adopted | null = null): void {
  if (early && earlyPid === pid) return;
  void discardEarly();
  earlyPid = pid;
  const started = new Promise<GdbProcess>((resolve) => {
    const g = new GdbProcess(pid, true, from);
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
  // the sh line's gdb when it started one for this pid (checked by adoptEarly), else a new one
  const from = adoptEarly(pid);
  if (pid !== null) startEarly(pid, from);
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

/**
 * Asked to quit (it attached nothing); its files go once it has read them. One node spawned is
 * waited for, and so reaped: it ends once loaded, on reading "quit". Left to outlive heapgap it
 * would be PID 1's to reap, which in an application's container may never happen (index.ts). The
 * sh line's, node cannot reap: not waited for.
 */
async function ended(g: GdbProcess): Promise<void> {
  g.quit();
  if (!g.adopted) g.hold(true);
  void g.done.then(() => g.dispose());
}
