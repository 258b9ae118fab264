/** gdb's command line for one session. */
import { join } from 'node:path';
import { hasSignal } from '../../parse/status.js';
import type { ProcStatus } from '../../types.js';
import { packagePath } from '../../paths.js';

/** driver.py and the SSE-only target description, shipped as source files next to this module. */
export const ASSETS = packagePath('src', 'collect', 'safe-call');
/** Lines gdb prints around attach and detach, with its monotonic clock: the stop's edges. */
export const STOP_MARK = 'heapgap-t ';

export interface GdbSession {
  pid: number;
  /**
   * Whether gdb may load the target's executable (its symbols name the frames of the thread check):
   * it then does unless the file carries DWARF (exe_check.py decides, inside gdb). false after gdb
   * crashed reading it. Not loaded, gdb is given libc as its executable and told to keep it, so it
   * does not read the target's own file on attach either.
   */
  withExe?: boolean;
  /**
   * Attach and detach only, no driver and no call: the floor any gdb-based stop stands on, with
   * everything else as heapgap does it (scripts/bench-pause.mjs measures heapgap against it). The
   * driver reads the target's libc and status from its parameters; the floor gets them here.
   */
  bare?: { status: ProcStatus; libc: { path: string; base: bigint } };
}

/**
 * The throwaway attach (Python statements, run with exec: gdb's `python` takes one line). A sleep of
 * gdb's own, stdio on /dev/null (a process left holding gdb's stdout would keep heapgap waiting for
 * it). Whatever fails here (no sleep, no posix_spawn before Python 3.8, attach refused) only means
 * the check happens at the target's attach. If gdb still holds it after a failed detach, gdb kills and
 * reaps it itself, so that no pid is signalled after it could have been reused; `file` then drops
 * sleep's symbols, which gdb would otherwise relocate into the target's executable range.
 */
const DECOY = [
  'def heapgap_decoy():',
  '    import os',
  '    try:',
  '        null = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0) for fd in (0, 1, 2)]',
  '        pid = os.posix_spawnp("sleep", ["sleep", "60"], dict(os.environ), file_actions=null)',
  '    except Exception:',
  '        return',
  '    try:',
  '        gdb.execute("attach %d" % pid, to_string=True)',
  '        gdb.execute("detach", to_string=True)',
  '    except Exception:',
  '        pass',
  '    held = False',
  '    try:',
  '        held = gdb.selected_inferior().pid != 0',
  '        if held:',
  '            gdb.execute("kill", to_string=True)',
  '    except Exception:',
  '        pass',
  '    if not held:',
  '        try:',
  '            os.kill(pid, 9)',
  '            os.waitpid(pid, 0)',
  '        except OSError:',
  '            pass',
  '    try:',
  '        gdb.execute("file", to_string=True)',
  '    except Exception:',
  '        pass',
  'heapgap_decoy()',
].join('\n');

/**
 * Python statements that load one of the .py files next to this module as a module bound to `name`
 * in gdb's __main__, through the import machinery rather than `source`: its bytecode then comes
 * from dist/pycache when that was built for this gdb (gdb-path.ts), not compiled at every start.
 */
function pyModule(name: string, file: string): string {
  // the directory from the environment (HEAPGAP_ASSETS, ASSETS): no path is pasted into Python source
  return `import importlib.util, os; ${name}_spec = importlib.util.spec_from_file_location("${name}_${file.replace('.py', '')}", os.path.join(os.environ["HEAPGAP_ASSETS"], "${file}")); ${name} = importlib.util.module_from_spec(${name}_spec); ${name}_spec.loader.exec_module(${name})`;
}

/**
 * gdb's command line. Nothing in it depends on what heapgap learns about the target before attaching
 * (its libc, its signal handlers, the allocators' plans): gdb is started first, and while it starts,
 * loads the executable and makes its throwaway attach, heapgap reads the target. The driver waits for
 * its parameters file (driver.py) and does the rest: libc's symbols, the walk before attach, attach,
 * the calls, detach.
 */
export function gdbArgs(s: GdbSession): string[] {
  // "<mark> <monotonic s> <gdb's CPU s>": the CPU figure is for HEAPGAP_DEBUG (what gdb itself spent).
  // heapgap_mark is defined by gdb's first command (below) and printed by every mark after it.
  const mark = (what: string) => ['-ex', `python heapgap_mark("${what}")`];
  // whatever the executable (exe_check.py), gdb keeps the one it was given when it attaches
  const exe = [
    '-iex', 'set exec-file-mismatch off',
    ...(s.withExe === false ? [] : ['-ex', `python ${pyModule('heapgap_exe', 'exe_check.py')}; heapgap_exe.load_exe(${s.pid}, heapgap_mark)`]),
    ...(s.bare ? ['-ex', `python gdb.current_progspace().filename or gdb.execute("exec-file ${s.bare.libc.path}")`] : []),
  ];
  const session = s.bare
    ? [
      ...segvHandling(s.bare.status).flatMap((sig) => ['-iex', `handle ${sig} stop print nopass`]),
      '-ex', `add-symbol-file ${s.bare.libc.path} -o 0x${s.bare.libc.base.toString(16)}`,
      // the driver's clock for the stop's start, without the driver: when gdb attached the first thread
      '-ex', `python import gdb, time; gdb.events.new_thread.connect(lambda e, s=[]: s or s.append(print("${STOP_MARK}first %.6f" % time.monotonic(), flush=True)))`,
    ]
    : [
      '-ex', `python ${pyModule('heapgap', 'driver.py')}`,
      // Marks between the loads: a gdb that crashes says, by the last one, what it was reading.
      ...mark('driver'),
      '-ex', 'python heapgap.heapgap_load()',
      ...mark('libc'),
      '-ex', 'python heapgap.heapgap_before_attach()',
    ];
  return [
    // No --readnever: it also stops gdb from reading .eh_frame, and without call-frame information
    // the driver's stack check sees only the innermost two frames (a thread waiting for an arena
    // lock two frames below free() looked like any thread parked in a futex). libc and the
    // executable are read with their symbols and .eh_frame, no DWARF: separate debug files are
    // switched off below, and an executable with DWARF of its own is not given to gdb
    // (exe_check.py; `file -readnever` for it makes gdb 13 fail an assertion when it unwinds).
    '-nx', '--batch',
    '-iex', `python import time; heapgap_mark = lambda w: print("${STOP_MARK}%s %.6f %.6f" % (w, time.monotonic(), time.process_time()), flush=True); heapgap_mark("gdb")`,
    // Its own process group, so a Ctrl-C at the terminal (sent to the foreground group) never reaches
    // gdb mid-call. Not its own session (setsid): a new session is a new scheduler autogroup, and a
    // fresh autogroup gets a small CPU share on a busy machine (measured: the attach phase took
    // 2-3x as long, all of it with the target stopped). Before this line runs nothing is attached,
    // and a Ctrl-C that reaches gdb that early reaches heapgap too, which then ends gdb.
    '-iex', 'python import os; os.setpgid(0, 0)',
    // Nothing the target supplies runs in gdb: no .debug_gdb_scripts, no gdbinit of its files.
    '-iex', 'set auto-load off',
    '-iex', 'set debuginfod enabled off',
    // libc6-dbg and the like: their DWARF would be read, some of it inside the stop, for nothing
    '-iex', 'set debug-file-directory /nonexistent',
    // An internal error in gdb must not leave a 50 MB core in the user's directory.
    '-iex', 'maint set internal-error corefile no',
    '-iex', 'maint set internal-warning corefile no',
    '-iex', 'set auto-solib-add off',
    // libthread_db would walk every thread's descriptor inside the stop; /proc/PID/task is enough.
    '-iex', 'set libthread-db-search-path /nonexistent',
    '-iex', 'set pagination off', '-iex', 'set confirm off', '-iex', 'set width 0',
    // gdb < 14 cannot write the xstate regset on kernels with AMX; a failed restore leaves
    // orig_rax = -1 and the target's interrupted syscalls return -ERESTARTSYS. FXSAVE works everywhere.
    '-iex', `set tdesc filename ${join(ASSETS, 'amd64-linux-sse.xml')}`,
    '-iex', 'set unwindonsignal on',
    // scheduler-locking stays at gdb's default ("replay", which is off for a live process): locked,
    // the threads that hold an allocator lock could not run and the call would deadlock.
    '-iex', 'handle all nostop noprint pass',
    // gdb checks the kernel's ptrace features on its first attach, forking test children: let that
    // happen on a throwaway process, not while the target waits. gdb starts it itself (posix_spawn:
    // no copy of gdb's memory), so it is gdb's child, which Yama's default scope (1) lets gdb attach
    // to, and it is gone before the target is attached (DECOY).
    '-ex', `python exec(${JSON.stringify(DECOY)})`,
    ...mark('decoy'),
    ...exe,
    ...mark('exe'),
    ...session,
    ...mark('attach'),
    // by the driver, which attaches only once it has loaded whole and read its parameters (gdb runs
    // every -ex after a failed one); the floor, which has no driver, as a plain command
    ...(s.bare ? ['-ex', `attach ${s.pid}`] : ['-ex', `python heapgap.heapgap_attach(${s.pid})`]),
    ...mark('attached'),
    ...(s.bare ? [] : ['-ex', 'python heapgap.heapgap_main()']),
    '-ex', 'detach',
    ...mark('detached'),
    // writes the result file, then ends gdb at once (its teardown is time the user waits)
    ...(s.bare ? [] : ['-ex', 'python heapgap.heapgap_finish()']),
  ];
}

/**
 * A fault in the called function must be caught and unwound, not delivered. But runtimes that
 * install a SIGSEGV handler (JVM safepoint polls, V8, Python's faulthandler) raise it on purpose
 * in their own threads: those targets get their signals passed through untouched. The signals gdb
 * stops on (the driver sets them before attach, from its parameters).
 */
export function segvHandling(status: ProcStatus): string[] {
  const numbers: Record<string, number> = { SIGSEGV: 11, SIGBUS: 7, SIGILL: 4, SIGFPE: 8, SIGABRT: 6 };
  return Object.keys(numbers).filter((s) => !hasSignal(status.sigCgt, numbers[s]!));
}
