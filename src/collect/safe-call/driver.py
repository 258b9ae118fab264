# The core of heapgap's safe-call protocol, the part that runs inside gdb. gdb sources this file
# BEFORE attaching (imports, the parameters, the regexes and every allocator's stop.py cost 7-15 ms
# that would otherwise be spent with the target stopped); right after `attach` gdb runs
# heapgap_main(), and after `detach` heapgap_finish(), which writes the result file. Everything that
# could be decided outside the stop was decided by src/collect/safe-call/*.ts and arrives in the JSON
# file named by $HEAPGAP_PARAMS. This core picks a thread that holds no allocator lock, owns the call
# token, the watchdog and cleanup, and hands each allocator's stop.py (src/allocators/<name>/) a Ctx
# through which every call is made. It never raises: every outcome goes to the result file.
import ctypes
import json
import os
import re
import struct
import threading
import time

import gdb

P = json.load(open(os.environ["HEAPGAP_PARAMS"]))
T_ENTER = 0.0
RESULT = {"ok": False, "error": None, "steps": [], "thread": None, "rejected": {}, "allocators": {},
          "released": None, "statusBefore": None, "statusAfter": None, "trimReturned": None,
          "callMs": 0.0, "interrupted": False, "cleanup": [], "resumed": []}
INF = None  # bound by heapgap_main(), once attached
PID = 0
LIBC = ctypes.CDLL(None, use_errno=True)
SYS_TGKILL = 234
SYS_FUTEX = "202"


class Refused(Exception):
    pass


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
RANGES = [(int(a, 16), int(b, 16)) for a, b in P["forbiddenRanges"]]
TEXT = [(int(a, 16), int(b, 16)) for a, b in P["libcText"]]
OUTERMOST = {"start_thread", "__libc_start_main", "__libc_start_call_main", "clone", "clone3", "_start"}


def in_ranges(pc, ranges):
    return any(lo <= pc < hi for lo, hi in ranges)


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
        if (name and FORBID.search(name)) or in_ranges(at, RANGES):
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

def thread_syscall(tid):
    try:
        with open("/proc/%d/task/%d/syscall" % (PID, tid)) as f:
            return f.read().split(" ", 1)[0].strip()
    except OSError:
        return ""


class Watchdog(threading.Thread):
    """Unwinds a call that waits on a lock past its time budget (or on abort).
    Only a thread blocked in futex is interrupted: a call that is computing may hold an arena
    lock, and unwinding it then would leave that lock held forever.
    One thread for the session, started when this file is sourced (before attach): starting a
    thread waits for the scheduler to run it, and inside the stop that wait is the target's."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lock = threading.Lock()  # held while deciding and signalling: disarm() waits for it
        self.armed = None             # (tid, signal, deadline)
        self.wake = threading.Event()
        self.fired = False

    def arm(self, tid, sig, budget_ms):
        with self.lock:
            self.armed = (tid, sig, time.monotonic() + budget_ms / 1000.0)
            self.fired = False
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
                if self.armed is None:
                    continue
                tid, sig, deadline = self.armed
                if (time.monotonic() > deadline or aborted()) and thread_syscall(tid) == SYS_FUTEX:
                    self.fired = True
                    self.armed = None
                    LIBC.syscall(SYS_TGKILL, PID, tid, sig)


WATCHDOG = Watchdog()
WATCHDOG.start()


def call(expr, interruptible=None, cleanup=False):
    """Runs one inferior call; interruptible = (tid, signal, budget_ms) for calls safe to unwind.
    Once heapgap asks to stop, only cleanup calls start; none starts once heapgap took the token."""
    if not cleanup and aborted():
        raise Refused("asked to stop before the next call")
    if not take_gate():
        raise Refused("heapgap is ending this gdb session; no further call is made")
    t0 = time.monotonic()
    mark("call")
    if interruptible:
        WATCHDOG.arm(*interruptible)
    try:
        value = gdb.parse_and_eval(expr)
        STATE["calls"] += 1
        return int(value)
    except gdb.error as e:
        if interruptible and WATCHDOG.fired:
            RESULT["interrupted"] = True
            if aborted():
                raise Refused("the call was unwound on request; the target's state was restored")
            raise Refused("the call waited on an allocator lock longer than %d ms and was unwound; "
                          "the target's state was restored" % int(interruptible[2]))
        raise
    finally:
        # The watchdog is disarmed before anything else: a late tgkill would unwind the next call.
        if interruptible:
            WATCHDOG.disarm()
        # gdb has restored the registers (or unwound the call) by the time it returns here
        mark("return")
        give_gate()
        RESULT["callMs"] += (time.monotonic() - t0) * 1000


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

    def call(self, expr, interruptible=False):
        """One inferior call. interruptible: the call only waits on locks, never holds one while
        computing, so the watchdog may unwind it past its budget."""
        return call(expr, self.guard if interruptible else None)

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
            if fp:
                RESULT["cleanup"].append("fclose -> %d" % call("%s(%dUL)" % (self.fn("fclose", "int(*)(void*)"), fp), cleanup=True))
            else:
                RESULT["cleanup"].append("close -> %d" % call("%s(%d)" % (self.fn("close", "int(*)(int)"), fd), cleanup=True))

    def step(self, msg):
        step(msg)

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
    ns = {"__name__": "heapgap_" + spec["name"], "Refused": Refused}
    with open(spec["script"]) as f:
        exec(compile(f.read(), spec["script"], "exec"), ns)
    return ns


PLUGINS = [(spec, load_plugin(spec)) for spec in P["allocators"]]


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
    sig, signame = pick_signal(tid)
    if sig:
        gdb.execute("handle %s stop print nopass" % signame, to_string=True)
    guard = (tid, sig, P["callBudgetMs"]) if sig else None
    ctxs = []
    try:
        for spec, plugin in PLUGINS:
            ctx = Ctx(guard, spec["params"].get("addr", {}))
            ctxs.append(ctx)
            RESULT["allocators"][spec["name"]] = plugin["collect"](ctx, spec["params"])
            step("%s collected" % spec["name"])
        if P["mode"] == "trim" and not aborted():
            spec, plugin = next((s, p) for s, p in PLUGINS if s["name"] == P["release"])
            # The process's Rss right before and after the release call, from the kernel's counters
            # (/proc/PID/status: a few microseconds whatever the process). Not smaps, nor even
            # smaps_rollup: both walk every page table (26 ms of kernel time per GiB resident) and
            # the whole process would wait for it. The per-arena picture is read outside the stop.
            RESULT["statusBefore"] = read_bytes("/proc/%d/status" % PID).decode("latin-1")
            step("status before")
            # A release call is never unwound: it holds the allocator's locks while it works.
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
        RESULT["error"] = {"kind": "refused", "message": str(e)}
    except Exception as e:  # noqa: BLE001 - everything must reach the result file
        RESULT["error"] = {"kind": "failed", "message": "%s: %s" % (type(e).__name__, e)}
    RESULT["driverMs"] = (time.monotonic() - T_ENTER) * 1000
    RESULT["resumed"] = [r for r in RUNS if r[1] is not None]
    RESULT["stoppedFrom"] = ATTACHED_FIRST[0] if ATTACHED_FIRST else None
    mark("done")


def heapgap_finish():
    """Runs after `detach`. gdb runs every -ex command even when one fails (a failed attach makes
    heapgap_main record a refusal), so the result file is always written, and never in the stop."""
    mark("finish")
    with open(P["resultFile"], "w") as out:
        json.dump(RESULT, out)
