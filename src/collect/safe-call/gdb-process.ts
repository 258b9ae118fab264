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
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STOP_MARK, gdbArgs } from './gdb-argv.js';
import { hasDebugInfo } from './exe-debug-info.js';
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

export class GdbProcess {
  readonly dir = mkdtempSync(join(tmpdir(), 'heapgap-'));
  readonly files = { resultFile: join(this.dir, 'result.json'), abortFile: join(this.dir, 'abort'), stateFile: join(this.dir, 'state'), gateFile: join(this.dir, 'gate') };
  /** gdb's marks (gdb-argv.ts): what, and when (its monotonic clock when it gave one, in ms). */
  readonly marks = new Map<string, number>();
  lastMark = Date.now();
  onMark: ((what: string) => void) | null = null;
  readonly done: Promise<GdbRun>;
  /** Settles once the driver has written its result (its `written` mark), or once gdb has ended. */
  readonly written: Promise<void>;
  private wrote = (): void => undefined;
  private readonly paramsFile = join(this.dir, 'params.json');
  private readonly child: ChildProcess;

  constructor(readonly pid: number, readonly withExe: boolean) {
    // the call token (driver.py take_gate): exists before gdb can look for it
    writeFileSync(this.files.gateFile, '');
    const gdb = gdbOnPath();
    // by its path when found: spawn's own search of PATH would find the same file
    this.child = spawn(gdb?.path ?? 'gdb', gdbArgs({ pid, withExe }), {
      env: { ...process.env, ...pycacheEnv(gdb), HEAPGAP_PARAMS: this.paramsFile, LC_ALL: 'C' },
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    mark('gdb-spawned');
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let pending = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      out.push(chunk);
      const lines = (pending + chunk.toString('latin1')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.mark(line);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    this.written = new Promise((resolve) => {
      this.wrote = resolve;
    });
    this.done = new Promise((resolve) => {
      let spawnError: Error | null = null;
      this.child.once('error', (e) => {
        spawnError = e;
        // no 'close' follows an error to spawn
        if (this.child.pid === undefined) resolve({ exitCode: null, signal: null, stdout: '', stderr: '', spawnError });
      });
      this.child.once('close', (exitCode, signal) => resolve({ exitCode, signal, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1'), spawnError }));
    });
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
    writeFileSync(`${this.paramsFile}.tmp`, JSON.stringify(params));
    renameSync(`${this.paramsFile}.tmp`, this.paramsFile);
  }

  /**
   * SIGKILL to gdb's process group (gdb-argv.ts makes it its own first thing): gdb forks children to
   * probe ptrace on its first attach, which stop themselves; killed alone, gdb would leave them
   * stopped for good. Before that setpgid there is no group, and no child either.
   */
  kill(): void {
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }

  /**
   * Ends a gdb that was never given its parameters without a signal: it finds "quit" instead
   * (driver.py) and exits by itself once loaded, whatever it was doing. heapgap need not wait for it.
   */
  quit(): void {
    try {
      this.give({ quit: true });
    } catch {
      this.kill(); // its directory is gone: no other way to reach it
    }
  }

  /** Whether gdb alone may keep heapgap running (an early gdb nobody took may not). */
  hold(held: boolean): void {
    // stdio pipes are sockets (net.Socket) underneath
    for (const h of [this.child, this.child.stdout, this.child.stderr] as ({ ref?(): unknown; unref?(): unknown } | null)[]) {
      if (held) h?.ref?.();
      else h?.unref?.();
    }
  }

  /** After gdb exited (or was killed before attaching): its files go. */
  async dispose(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** gdb started for a pid before heapgap read it (startEarly), not yet taken by a session. */
let early: Promise<GdbProcess> | null = null;
let earlyPid = 0;
/** The same, once spawned: what heapgap's exit must end (nothing is attached until a session takes it). */
let unclaimed: GdbProcess | null = null;

/** Starts gdb for `pid` now, once; safeCall takes it (takeEarly). */
export function startEarly(pid: number): void {
  if (early && earlyPid === pid) return;
  void discardEarly();
  earlyPid = pid;
  // read through the thread pool: an executable on a stalled mount must not block signal handling
  const started = hasDebugInfo(`/proc/${pid}/exe`).then((debug) => {
    const g = new GdbProcess(pid, !debug);
    g.hold(false);
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
  if (pid !== null) startEarly(pid);
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

/** The early gdb's choice of executable for this pid (hasDebugInfo, read when it was started), or null. */
export async function earlyWithExe(pid: number): Promise<boolean | null> {
  if (!early || earlyPid !== pid) return null;
  return (await early.catch(() => null))?.withExe ?? null;
}

/** The early gdb for this pid when it was started with the same choice of executable, else null. */
export async function takeEarly(pid: number, withExe: boolean): Promise<GdbProcess | null> {
  if (!early || earlyPid !== pid) return null;
  const g = await early.catch(() => null);
  early = null;
  unclaimed = null;
  if (g && g.withExe === withExe) {
    g.hold(true);
    return g;
  }
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
