# The core of heapgap's safe-call protocol, the part that runs inside gdb. gdb is started before
# heapgap has read the target, and sources this file as soon as it has loaded the executable; the file
# waits for its parameters (wait_for_params) and loads them BEFORE attaching (imports, the parameters,
# the regexes and every allocator's stop.py cost 7-15 ms that would otherwise be spent with the
# target stopped). gdb then runs heapgap_load() (libc's symbols), heapgap_before_attach(), `attach`,
# heapgap_main(), `detach`, and heapgap_finish(), which writes the result file and ends gdb. Everything that
# could be decided outside the stop was decided by src/collect/safe-call/*.ts and arrives in the JSON
# file named by $HEAPGAP_PARAMS. This core picks a thread that holds no allocator lock, owns the call
# token, the watchdog and cleanup, and hands each allocator's stop.py (src/allocators/<name>/) a Ctx
# through which every call is made. It never raises: every outcome goes to the result file.
import bisect
import ctypes
import importlib.machinery
import json
import os
import re
import stat
import struct
import threading
import time

import gdb

def wait_for_params(path):
    """The parameters arrive as a file renamed into place once heapgap has read the target. Until
    then nothing is attached: heapgap ends this gdb if it gives up, and should heapgap itself die
    first (this gdb is re-parented), gdb ends here on its own. heapgap names itself
    (HEAPGAP_PARENT): it may have died before this line, even before gdb was started by its sh."""
    parent = int(os.environ.get("HEAPGAP_PARENT") or os.getppid())
    while not os.path.exists(path):
        if os.getppid() != parent:
            quit_early(path, 3)
        time.sleep(0.002)


def quit_early(path, status):
    """Ends gdb before anything was attached, with heapgap's files for this session (its directory
    holds nothing else), which heapgap may not be there to remove."""
    import shutil  # here only: imported with the driver, it was 4 ms of every gdb's start

    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    os._exit(status)


def own_output(path):
    """gdb started by main.js's sh (gdb-early.sh) writes to FIFOs it opened read-write, so that no
    open blocked before node was there. Read-write, gdb is a reader of its own output too: were node
    to die in the stop, gdb's writes would not fail but fill the FIFO and block, attached. node opened
    its readers before it wrote the parameters, so they are reopened write-only now."""
    d = os.path.dirname(path)
    for fd, name in ((1, "out"), (2, "err")):
        try:
            fifo = os.path.join(d, name)
            st, own = os.fstat(fd), os.stat(fifo)
            if not stat.S_ISFIFO(st.st_mode) or (st.st_dev, st.st_ino) != (own.st_dev, own.st_ino):
                continue
            w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO without a reader: left as it is
            os.set_blocking(w, True)
            os.dup2(w, fd)
            os.close(w)
        except OSError:
            pass


wait_for_params(os.environ["HEAPGAP_PARAMS"])
P = json.load(open(os.environ["HEAPGAP_PARAMS"]))
if P.get("quit"):
    # heapgap refused before attaching, or ended
    quit_early(os.environ["HEAPGAP_PARAMS"], 0)
own_output(os.environ["HEAPGAP_PARAMS"])
T_ENTER = 0.0
RESULT = {"ok": False, "error": None, "steps": [], "thread": None, "rejected": {}, "allocators": {}, "checks": {}, "beforeAttach": {},
          "noCalls": None, "failure": None,
          "released": None, "statusBefore": None, "statusAfter": None, "trimReturned": None,
          "callMs": 0.0, "interrupted": False, "cleanup": [], "resumed": []}
INF = None  # bound by heapgap_main(), once attached
PID = 0
LIBC = ctypes.CDLL(None, use_errno=True)
SYS_TGKILL = 234
SYS_FUTEX = "202"


class Refused(Exception):
    """No (further) call is made. kind tells heapgap why: "refused", "busy" (try again),
    "heap-corrupt" (a check found the allocator's lists broken), "unchecked" (a release refused: its
    lists could not all be walked in the time or steps given), "call-failed" (a call failed
    inside the allocator; RESULT["failure"] says what it left behind)."""

    def __init__(self, message, kind="refused"):
        super().__init__(message)
        self.kind = kind


# Opened here, when gdb sources this file before attaching, not in the stop.
STATE = {"fd": os.open(P["stateFile"], os.O_WRONLY | os.O_CREAT, 0o600), "seq": 0, "calls": 0}


def mark(what):
    """Progress for heapgap (gdb.ts): "<what> <seq> <calls completed> <malloc_trim's return or ->",
    rewritten in place before each step. heapgap reads it to tell a stuck gdb from a slow one, and to
    say what had been done if it has to end one. A file, not stdout: read at the moment it decides."""
    STATE["seq"] += 1
    trim = "-" if RESULT["trimReturned"] is None else str(RESULT["trimReturned"])
    line = "%s %d %d %s" % (what, STATE["seq"], STATE["calls"], trim)
    os.pwrite(STATE["fd"], line.ljust(63).encode() + b"\n", 0)


def take_gate():
    """The call token (a file renamed, so exactly one side can hold it). heapgap ends a stuck gdb
    only after taking the token itself: then no call is under way, and none can start."""
    try:
        os.rename(P["gateFile"], P["gateFile"] + ".call")
        return True
    except OSError:
        return False


def give_gate():
    os.rename(P["gateFile"] + ".call", P["gateFile"])


def step(msg):
    # [ms since attach, what, gdb's CPU ms so far (load-independent: what the stop costs gdb itself)]
    RESULT["steps"].append([round((time.monotonic() - T_ENTER) * 1000, 3), msg, round(time.process_time() * 1000, 3)])
    mark("step")


def aborted():
    return os.path.exists(P["abortFile"])


def mem(addr, n):
    return bytes(INF.read_memory(addr, n))


def u64(addr):
    return struct.unpack("<Q", mem(addr, 8))[0]


# ---- choosing the thread -------------------------------------------------------------------

FORBID = re.compile(P["forbiddenFrames"])
def merged(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


# Sorted and merged before attach: a statically linked allocator gives one range per function.
RANGES = merged((int(a, 16), int(b, 16)) for a, b in P["forbiddenRanges"])
RANGE_STARTS = [lo for lo, hi in RANGES]
TEXT = [(int(a, 16), int(b, 16)) for a, b in P["libcText"]]
OUTERMOST = {"start_thread", "__libc_start_main", "__libc_start_call_main", "clone", "clone3", "_start"}


def in_ranges(pc, ranges):
    return any(lo <= pc < hi for lo, hi in ranges)


def forbidden(pc):
    """pc inside code a calling thread must not be in (RANGES, by bisection)."""
    i = bisect.bisect_right(RANGE_STARTS, pc) - 1
    return i >= 0 and pc < RANGES[i][1]


def verdict(th):
    """(reason or None, complete): None when the thread is parked in a libc syscall and no frame
    of its stack is inside the allocator, stdio, the dynamic loader, fork, exit or a signal handler."""
    th.switch()
    frame = gdb.newest_frame()
    pc = frame.pc()
    if not in_ranges(pc, TEXT):
        return "not inside libc", False
    try:
        if mem(pc - 2, 2) != b"\x0f\x05":
            return "not parked at a syscall instruction", False
    except gdb.MemoryError:
        return "pc unreadable", False
    depth = 0
    while frame is not None and depth < 96:
        if frame.type() == gdb.SIGTRAMP_FRAME:
            return "running a signal handler", False
        name = frame.name() or ""
        at = frame.pc() - (0 if depth == 0 else 1)
        if (name and FORBID.search(name)) or forbidden(at):
            return "inside %s" % (name or hex(at)), False
        if name in OUTERMOST:
            return None, True
        try:
            frame = frame.older()
        except gdb.error:
            break
        depth += 1
    # complete: the unwinder itself ended the chain (libc's frames are unwound from its .eh_frame;
    # without names for start_thread & co., that end is how a whole stack is recognised)
    return None, frame is None


def choose_thread():
    by_tid = {th.ptid[1]: th for th in INF.threads()}
    order = [t for t in P["threadOrder"] if t in by_tid] + [t for t in by_tid if t not in P["threadOrder"]]
    fallback = None
    for tid in order:
        mark("thread")
        try:
            reason, complete = verdict(by_tid[tid])
        except gdb.error as e:
            reason, complete = "unwind failed: %s" % e, False
        if reason is not None:
            RESULT["rejected"][str(tid)] = reason
            continue
        if complete:
            return by_tid[tid]
        fallback = fallback or by_tid[tid]
    return fallback


# ---- calls ---------------------------------------------------------------------------------

def thread_syscall_args(tid):
    """(syscall number, first argument) of a thread blocked in a syscall, or None."""
    try:
        with open("/proc/%d/task/%d/syscall" % (PID, tid)) as f:
            parts = f.read().split()
        return (parts[0], int(parts[1], 16)) if len(parts) > 1 else None
    except (OSError, ValueError):
        return None


def allocator_frames(th):
    """Whether any of a thread's frames is an allocator frame, for a thread not parked in libc
    (running user code, or stopped between two instructions of libc)."""
    th.switch()
    try:
        frame, depth = gdb.newest_frame(), 0
        while frame is not None and depth < 96:
            name = frame.name() or ""
            at = frame.pc() - (0 if depth == 0 else 1)
            if (name and FORBID.search(name)) or forbidden(at):
                return True
            frame, depth = frame.older(), depth + 1
    except gdb.error:
        return True  # cannot tell: count it as one
    return False


def thread_syscall(tid):
    try:
        with open("/proc/%d/task/%d/syscall" % (PID, tid)) as f:
            return f.read().split(" ", 1)[0].strip()
    except OSError:
        return ""


class Watchdog(threading.Thread):
    """Unwinds a call that waits on a lock past its time budget (or on abort).
    Only a thread blocked in futex is interrupted: a call that is computing may hold an arena
    lock, and unwinding it then would leave that lock held. The exception is a call armed with
    `unwind_after` = (grace, limit) in seconds: once heapgap has asked to stop (its --timeout,
    Ctrl-C, SIGTERM) for `grace`, or once the call has run `limit` (None: no limit), it is unwound
    wherever it is, and the failure hook (after_failure) deals with the lock it held. Without it a
    call that never returns (a cyclic free list) would hold heapgap, and the lock, forever.
    One thread for the session, started when this file is sourced (before attach) and armed for
    each call: starting a thread waits for the scheduler to run it, and inside the stop that wait
    is the target's."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lock = threading.Lock()  # held while deciding and signalling: disarm() waits for it
        self.armed = None             # what the current call is armed with (see arm())
        self.wake = threading.Event()
        self.fired = None  # "waiting", "computing" (asked to stop) or "limit" once it fired

    def arm(self, tid, sig, budget_ms, unwind_after=None):
        grace, limit = unwind_after if unwind_after else (None, None)
        with self.lock:
            self.armed = {"tid": tid, "sig": sig, "budget": budget_ms / 1000.0, "grace": grace, "limit": limit,
                          "start": time.monotonic(), "asked": None}
            self.fired = None
        self.wake.set()

    def disarm(self):
        """Once this returns, no signal for the call just finished can still be sent."""
        with self.lock:
            self.armed = None
            self.wake.clear()

    def run(self):
        while True:
            self.wake.wait()
            time.sleep(0.005)
            with self.lock:
                a = self.armed
                if a is None:
                    continue
                now = time.monotonic()
                if aborted() and a["asked"] is None:
                    a["asked"] = now
                waiting = thread_syscall(a["tid"]) == SYS_FUTEX
                late = now - a["start"] > a["budget"]
                pressed = a["grace"] is not None and a["asked"] is not None and now - a["asked"] > a["grace"]
                too_long = a["limit"] is not None and now - a["start"] > a["limit"]
                if ((late or a["asked"] is not None) and waiting) or pressed or too_long:
                    self.fired = "waiting" if waiting else "computing" if pressed else "limit"
                    self.armed = None
                    LIBC.syscall(SYS_TGKILL, PID, a["tid"], a["sig"])


WATCHDOG = Watchdog()
WATCHDOG.start()


# Signal stops gdb reports while a call runs (with unwindonsignal on, before it unwinds the call):
# which signal, and the frames at that moment, as evidence of where the call was.
SIGNAL_STOPS = []


def on_stop(event):
    if not isinstance(event, gdb.SignalEvent):
        return
    frames = []
    try:
        f = gdb.newest_frame()
        while f is not None and len(frames) < 8:
            frames.append(f.name() or hex(f.pc()))
            f = f.older()
    except gdb.error:
        pass
    SIGNAL_STOPS.append({"signal": event.stop_signal, "frames": frames})


gdb.events.stop.connect(on_stop)
HOOKS = {"locksLeft": False}
CLEANUP_GUARD = []  # (tid, signal, budget_ms) once the calling thread is chosen  # set when a failed call left a lock held: cleanup then avoids the allocator


def call(expr, interruptible=None, cleanup=False, what=None):
    """Runs one inferior call; interruptible = (tid, signal, budget_ms, unwind_after) for calls safe
    to unwind. Once heapgap asks to stop, only cleanup calls start; none starts once heapgap took
    the token. A call that fails inside the allocator (a signal: abort, fault, or the watchdog's)
    runs every allocator's after_failure hook BEFORE anything else is called: the failed call may
    have left a lock held that the next call (even fclose) would wait on forever."""
    if not cleanup and aborted():
        raise Refused("asked to stop before the next call")
    if not take_gate():
        raise Refused("heapgap is ending this gdb session; no further call is made")
    if cleanup and interruptible is None and CLEANUP_GUARD:
        # A cleanup call (fclose, munmap, a futex wake) only ever waits: never for good.
        interruptible = CLEANUP_GUARD[0]
    t0 = time.monotonic()
    stops = len(SIGNAL_STOPS)
    failure = None
    mark("call")
    if interruptible:
        WATCHDOG.arm(*interruptible)
    try:
        value = gdb.parse_and_eval(expr)
        STATE["calls"] += 1
        return int(value)
    except gdb.error:
        signaled = SIGNAL_STOPS[stops:]
        fired = None
        if interruptible:
            WATCHDOG.disarm()
            fired = WATCHDOG.fired
        if fired == "waiting" and cleanup:
            RESULT["cleanup"].append("unwound while waiting on a lock: %s" % (what or expr))
            return -1
        if fired == "waiting":
            RESULT["interrupted"] = True
            if aborted():
                raise Refused("the call was unwound on request; the target's state was restored")
            raise Refused("the call waited on an allocator lock longer than %d ms and was unwound; "
                          "the target's state was restored" % int(interruptible[2]))
        if not signaled or cleanup:
            raise
        failure = (what or expr, signaled[-1], fired)
    finally:
        # The watchdog is disarmed before anything else: a late tgkill would unwind the next call.
        if interruptible:
            WATCHDOG.disarm()
        # gdb has restored the registers (or unwound the call) by the time it returns here
        mark("return")
        give_gate()
        RESULT["callMs"] += (time.monotonic() - t0) * 1000
    # Out of the call (the token is back): the hooks may have to call, e.g. a futex wake.
    failed(*failure)


def failed(what, stop, watchdog):
    """A call was stopped by a signal inside the target and unwound by gdb. Each allocator's
    after_failure hook finds the locks it left and releases those it can prove were the call's;
    then no further call is made but cleanup, and that avoids the allocator if a lock stays held."""
    failure = {"call": what, "signal": stop["signal"], "frames": stop["frames"], "interrupted": watchdog, "allocators": {}}
    RESULT["failure"] = failure
    for spec, plugin in PLUGINS:
        hook = plugin.get("after_failure")
        if hook is None:
            continue
        try:
            out = hook(Ctx(None, spec["params"].get("addr", {})), spec["params"], failure)
        except Exception as e:  # noqa: BLE001 - the truth about the target must still be told
            out = {"error": "%s: %s" % (type(e).__name__, e), "leftHeld": ["unknown"]}
        failure["allocators"][spec["name"]] = out
        if out.get("leftHeld"):
            HOOKS["locksLeft"] = True
    step("call failed (%s); locks checked" % stop["signal"])
    raise Refused("%s was stopped by %s inside the target%s" % (what, stop["signal"], " (interrupted by heapgap: it did not return)" if watchdog in ("computing", "limit") else ""), "call-failed")


def pick_signal(tid):
    try:
        with open("/proc/%d/task/%d/status" % (PID, tid)) as f:
            blk = int(re.search(r"^SigBlk:\s*([0-9a-f]+)", f.read(), re.M).group(1), 16)
    except (OSError, AttributeError):
        blk = 0
    for sig, name in P["watchdogSignals"]:
        if not (blk >> (sig - 1)) & 1:
            return sig, name
    return None, None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# ---- what an allocator's stop.py is given -------------------------------------------------------

class Ctx:
    """Everything an allocator's stop.py may do in the stop. Each call goes through call() (token,
    watchdog, marks); memory heapgap writes is memory it mapped itself, never the target's heap."""

    def __init__(self, guard, addr):
        self.guard = guard      # (tid, signal, budget) for calls that may be unwound, or None
        self.addr = addr        # this allocator's resolved functions and strings
        self.maps = []          # (address, length) heapgap mapped in the target: unmapped at cleanup

    def fn(self, name, proto):
        """A callable expression for a function whose address heapgap resolved before attaching."""
        where = self.addr.get(name) or P["addr"].get(name)
        if where is None:
            raise Refused("no address for %s()" % name)
        return "((%s)%s)" % (proto, where)

    def call(self, expr, interruptible=False, unwind_after=None, what=None):
        """One inferior call. interruptible: the call only waits on locks, never holds one while
        computing, so the watchdog may unwind it past its budget. unwind_after = (grace, limit)
        seconds: a call that may compute forever on a broken heap is unwound `grace` after heapgap
        asked to stop, or after running `limit`, even while computing (the allocator's
        after_failure hook then deals with its lock)."""
        guard = self.guard if (interruptible or unwind_after is not None) else None
        if guard is not None:
            guard = guard[:3] + (unwind_after,) if interruptible else (guard[0], guard[1], float("inf"), unwind_after)
        return call(expr, guard, what=what)

    def read(self, addr, n):
        return mem(addr, n)

    def u64(self, addr):
        return u64(addr)

    def write(self, addr, data):
        if not any(lo <= addr and addr + len(data) <= lo + n for lo, n in self.maps):
            raise Refused("write outside heapgap's own mapping refused")
        INF.write_memory(addr, data)

    def scratch(self, nbytes):
        """A private anonymous mapping in the target (mmap, not malloc: the heap is not touched)."""
        n = (nbytes + 4095) & ~4095
        a = call("(unsigned long)%s((void*)0, %dUL, 3, 0x22, -1, 0L)" % (self.fn("mmap", MMAP_PROTO), n))
        if a in (0, (1 << 64) - 1) or a >= (1 << 63):
            raise Refused("mmap of a scratch page failed in the target")
        self.maps.append((a, n))
        RESULT["cleanup"].append("scratch 0x%x" % a)
        return a

    def memfd_text(self, writer):
        """Opens an unbuffered FILE on a memfd, lets writer(fp) make the call that prints to it, and
        returns what it printed, read from outside. The FILE is closed whatever happens."""
        fd = call("%s(%s, 1U)" % (self.fn("memfd_create", "int(*)(void*, unsigned int)"), P["addr"]["name"]))
        if fd < 0:
            raise Refused("memfd_create failed in the target (seccomp?)")
        RESULT["cleanup"].append("memfd %d" % fd)
        fp = 0
        try:
            fp = call("(unsigned long)%s(%d, %s)" % (self.fn("fdopen", "void*(*)(int, void*)"), fd, P["addr"]["mode"]))
            if fp == 0:
                raise Refused("fdopen failed in the target")
            call("%s(%dUL, (void*)0, 2, 0UL)" % (self.fn("setvbuf", "int(*)(void*, void*, int, unsigned long)"), fp))
            step("channel ready")
            writer("%dUL" % fp)
            return read_channel(self, fd)
        finally:
            if fp and not HOOKS["locksLeft"]:
                RESULT["cleanup"].append("fclose -> %d" % call("%s(%dUL)" % (self.fn("fclose", "int(*)(void*)"), fp), cleanup=True))
            else:
                # fclose frees the FILE: with an arena lock left held it could wait forever. The
                # FILE (about 500 bytes) is left behind instead; its descriptor is closed.
                if fp:
                    RESULT["cleanup"].append("FILE 0x%x left allocated (an arena lock is held)" % fp)
                RESULT["cleanup"].append("close -> %d" % call("%s(%d)" % (self.fn("close", "int(*)(int)"), fd), cleanup=True))

    def step(self, msg):
        step(msg)

    def unlock(self, addr):
        """Releases a futex lock word exactly as glibc's lll_unlock does: 0 in, and a FUTEX_WAKE of
        one waiter when the word said there were waiters (2). Only for a lock an after_failure hook
        proved was left by heapgap's own failed call."""
        old = struct.unpack("<i", mem(addr, 4))[0]
        INF.write_memory(addr, struct.pack("<i", 0))
        woke = None
        if old > 1:
            # Waiters also see the 0 without it: ptrace's stop interrupted their futex wait, which
            # is restarted on detach and returns at once since the word is no longer 2.
            try:
                woke = call("%s(202L, %dL, 129L, 1L)" % (self.fn("syscall", "long(*)(long, long, long, long)"), addr), cleanup=True)
            except Refused:
                woke = None
        return {"was": old, "woke": woke}

    def threads_in_allocator(self):
        """Every thread but the calling one that may hold an allocator lock: its stack has an
        allocator frame (the same test as for choosing the calling thread). A thread blocked in
        futex on a lock word is only waiting for that lock: futexWait says which word."""
        caller = gdb.selected_thread()
        out = []
        try:
            for th in INF.threads():
                if th.ptid[1] == RESULT["thread"]:
                    continue
                sc = thread_syscall_args(th.ptid[1])
                try:
                    reason, _ = verdict(th)
                except gdb.error as e:
                    reason = "unwind failed: %s" % e
                if reason is None or reason in ("not inside libc", "not parked at a syscall instruction") and not allocator_frames(th):
                    continue
                out.append({"tid": th.ptid[1], "where": reason, "futexWait": sc[1] if sc and sc[0] == SYS_FUTEX else None})
        finally:
            caller.switch()
        return out

    def refuse(self, msg):
        raise Refused(msg)

    def release_maps(self):
        while self.maps:
            a, n = self.maps.pop()
            call("%s(%dUL, %dUL)" % (self.fn("munmap", "int(*)(void*, unsigned long)"), a, n), cleanup=True)


MMAP_PROTO = "void*(*)(void*, unsigned long, int, int, int, long)"


def read_channel(ctx, fd):
    """The memfd's contents: from /proc/PID/fd/N, or, when file permissions forbid that (CAP_SYS_PTRACE
    without the target's uid), by mapping the memfd read-only in the target and reading it through
    ptrace. Neither touches the target's heap."""
    if P.get("channel") != "mmap":
        try:
            return read_bytes("/proc/%d/fd/%d" % (PID, fd)).decode("latin-1")
        except OSError:
            pass
    size = call("%s(%d, 0L, 2)" % (ctx.fn("lseek", "long(*)(int, long, int)"), fd))
    if size <= 0:
        return ""
    addr = call("(unsigned long)%s((void*)0, %dUL, 1, 1, %d, 0L)" % (ctx.fn("mmap", MMAP_PROTO), size, fd))
    if addr in (0, (1 << 64) - 1):
        raise Refused("cannot read the output: /proc/PID/fd is not readable and mmap failed")
    try:
        RESULT["channel"] = "mmap"
        return mem(addr, size).decode("latin-1")
    finally:
        call("%s(%dUL, %dUL)" % (ctx.fn("munmap", "int(*)(void*, unsigned long)"), addr, size), cleanup=True)


# ---- the allocators' in-stop parts, loaded before attach ------------------------------------------

def load_plugin(spec):
    """Each allocator's stop.py, executed as its own namespace: collect(ctx, params) and, for trim,
    release(ctx, params). A file of heapgap's, never of the target's."""
    name = "heapgap_" + spec["name"]
    ns = {"__name__": name, "__file__": spec["script"], "Refused": Refused, "progress": mark}
    # the import machinery's loader: its bytecode from a pycache_prefix tree when one is current
    exec(importlib.machinery.SourceFileLoader(name, spec["script"]).get_code(name), ns)
    return ns


PLUGINS = [(spec, load_plugin(spec)) for spec in P["allocators"]]


def heapgap_load():
    """What gdb needs of the target before attaching and could not be told on its command line:
    the signals a call must not deliver (gdb-argv.ts segvHandling), and libc's symbols (as the
    executable too, when the target's own is not loaded)."""
    for sig in P["stopSignals"]:
        gdb.execute("handle %s stop print nopass" % sig, to_string=True)
    libc = P["libc"]
    if gdb.current_progspace().filename is None:
        # the target's executable was not loaded (exe_check.py): libc stands for it
        gdb.execute("exec-file %s" % libc["path"], to_string=True)
    gdb.execute("add-symbol-file %s -o %s" % (libc["path"], libc["base"]), to_string=True)


def heapgap_before_attach():
    """Each allocator's before_attach(params), run right before `attach` while the process runs
    (glibc walks its free lists there, so that its walk in the stop can be short)."""
    for spec, plugin in PLUGINS:
        hook = plugin.get("before_attach")
        if hook is None or aborted():
            continue
        mark("prewalk")
        t0 = time.monotonic()
        try:
            out = hook(dict(spec["params"], mode=P["mode"], deadline=P["deadline"]))
        except Exception as e:  # noqa: BLE001 - the walk in the stop then does it all
            out = {"error": "%s: %s" % (type(e).__name__, e)}
        if out is not None:
            RESULT["beforeAttach"][spec["name"]] = dict(out, wallMs=round((time.monotonic() - t0) * 1000, 3))


# ---- how long the process was really stopped (gdb's own events) -----------------------------------

RUNS = []  # [resumed, stopped] monotonic times: during a call every thread runs (scheduler-locking off)


def on_call(event):
    """gdb reports an inferior call as a pre event (it is about to resume the threads) and a post
    event (the call returned and every thread is stopped again); it fires no cont/stop events for it."""
    if isinstance(event, gdb.InferiorCallPreEvent):
        RUNS.append([time.monotonic(), None])
    elif isinstance(event, gdb.InferiorCallPostEvent) and RUNS and RUNS[-1][1] is None:
        RUNS[-1][1] = time.monotonic()


gdb.events.inferior_call.connect(on_call)

# When gdb attached the first thread: the stop begins there. `attach` itself may take a while to get
# that far on a busy machine (measured: up to 11 ms after the command began, the target still ran).
ATTACHED_FIRST = []
gdb.events.new_thread.connect(lambda event: ATTACHED_FIRST or ATTACHED_FIRST.append(time.monotonic()))


# ---- the session ---------------------------------------------------------------------------

def run():
    if aborted():
        raise Refused("interrupted before any call")
    th = choose_thread()
    step("thread chosen")
    if th is None:
        raise Refused("no thread is parked outside the allocator (%d examined)" % len(RESULT["rejected"]))
    tid = th.ptid[1]
    th.switch()
    RESULT["thread"] = tid
    # After the thread choice: in a single-threaded process, lists are only consistent when its one
    # thread is outside the allocator (glibc takes no lock there).
    if precheck():
        return
    sig, signame = pick_signal(tid)
    if sig:
        gdb.execute("handle %s stop print nopass" % signame, to_string=True)
    guard = (tid, sig, P["callBudgetMs"]) if sig else None
    if guard:
        CLEANUP_GUARD.append(guard)
    ctxs = []
    try:
        for spec, plugin in PLUGINS:
            ctx = Ctx(guard, spec["params"].get("addr", {}))
            ctxs.append(ctx)
            RESULT["allocators"][spec["name"]] = plugin["collect"](ctx, spec["params"])
            if spec["name"] in RESULT["checks"]:
                RESULT["allocators"][spec["name"]]["check"] = RESULT["checks"][spec["name"]]
            step("%s collected" % spec["name"])
        if P["mode"] == "trim" and not aborted():
            spec, plugin = next((s, p) for s, p in PLUGINS if s["name"] == P["release"])
            # The process's Rss right before and after the release call, from the kernel's counters
            # (/proc/PID/status: a few microseconds whatever the process). Not smaps, nor even
            # smaps_rollup: both walk every page table (26 ms of kernel time per GiB resident) and
            # the whole process would wait for it. The per-arena picture is read outside the stop.
            RESULT["statusBefore"] = read_bytes("/proc/%d/status" % PID).decode("latin-1")
            step("status before")
            # A release call is not unwound while it works (it holds the allocator's locks): only long
            # after heapgap asked to stop (glibc's stop.py), and then after_failure checks the lock.
            RESULT["released"] = plugin["release"](ctxs[PLUGINS.index((spec, plugin))], dict(spec["params"], pad=P["pad"]))
            RESULT["statusAfter"] = read_bytes("/proc/%d/status" % PID).decode("latin-1")
            RESULT["trimReturned"] = RESULT["released"].get("returned")
            step("released")
    finally:
        for ctx in ctxs:
            ctx.release_maps()
        if sig:
            gdb.execute("handle %s nostop noprint pass" % signame, to_string=True)
    RESULT["ok"] = True


def precheck():
    """Every allocator's check of its own structures, from outside (reads only), before ANY call:
    a call into a broken heap can abort or loop holding a lock, and any call may allocate (fdopen
    does), so one broken allocator stops all calls. True when the session ends here (inspect: no
    call is made and the checks are the result; trim: refused)."""
    corrupt = []
    for spec, plugin in PLUGINS:
        check = plugin.get("precheck")
        if check is None:
            continue
        verdict = check(Ctx(None, spec["params"].get("addr", {})), dict(spec["params"], mode=P["mode"]))
        RESULT["checks"][spec["name"]] = verdict
        step("%s checked" % spec["name"])
        if verdict.get("busy"):
            raise Refused(verdict["busy"], "busy")
        if verdict.get("corrupt"):
            corrupt.append(verdict.get("summary") or "the %s heap is corrupt" % spec["name"])
    if not corrupt:
        return False
    for name, verdict in RESULT["checks"].items():
        RESULT["allocators"][name] = {"check": verdict}
    if P["mode"] == "trim":
        raise Refused("the heap is corrupt: %s; no call was made" % "; ".join(corrupt), "heap-corrupt")
    RESULT["noCalls"] = "heap-corrupt"
    RESULT["ok"] = True
    return True


def heapgap_main():
    global INF, PID, T_ENTER
    T_ENTER = time.monotonic()
    RESULT["attachedAt"] = T_ENTER
    try:
        INF = gdb.selected_inferior()
        PID = INF.pid
        if PID != P["pid"]:
            raise Refused("gdb is not attached to process %d" % P["pid"])
        run()
    except Refused as e:
        RESULT["error"] = {"kind": e.kind, "message": str(e)}
    except Exception as e:  # noqa: BLE001 - everything must reach the result file
        RESULT["error"] = {"kind": "failed", "message": "%s: %s" % (type(e).__name__, e)}
    RESULT["driverMs"] = (time.monotonic() - T_ENTER) * 1000
    RESULT["resumed"] = [r for r in RUNS if r[1] is not None]
    RESULT["stoppedFrom"] = ATTACHED_FIRST[0] if ATTACHED_FIRST else None
    mark("done")


def heapgap_attach(pid):
    """`attach`, made by the driver only: gdb runs every -ex command even after one failed, so a gdb
    whose driver did not load whole (or that was interrupted while it waited for its parameters)
    would otherwise reach a bare `attach` with nothing to end the stop but its own exit. pid is the
    one gdb was started for; the parameters must name the same."""
    if aborted() or pid != P["pid"]:
        return
    try:
        gdb.execute("attach %d" % pid)
    except gdb.error as e:
        # as gdb words it (failures.ts reads it): heapgap_main then finds nothing attached
        gdb.write("%s\n" % e, gdb.STDERR)


def heapgap_finish():
    """Runs after `detach`. gdb runs every -ex command even when one fails (a failed attach makes
    heapgap_main record a refusal), so the result file is always written, and never in the stop."""
    mark("finish")
    with open(P["resultFile"], "w") as out:
        json.dump(RESULT, out)
    # Detached, result written: heapgap reads it on this line, while gdb exits (its teardown, about
    # 12 ms, is the kernel's freeing of gdb's memory). gdb's own (symbol tables, Python) is skipped.
    # Still attached (a failed `detach`), only gdb's exit releases the process: heapgap waits for it.
    if gdb.selected_inferior().pid == 0:
        print("heapgap-t written %.6f" % time.monotonic(), flush=True)  # a mark (STOP_MARK, gdb-argv.ts)
    gdb.flush()
    gdb.flush(gdb.STDERR)
    os._exit(0)
