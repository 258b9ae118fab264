# heapgap's side of the safe-call protocol. gdb sources this file BEFORE attaching (imports, the
# parameters and the regexes cost 7-15 ms that would otherwise be spent with the target stopped);
# right after `attach` gdb runs heapgap_main(), and after `detach` heapgap_finish(), which writes the
# result file (in trim mode it holds smaps twice: 86 MB of JSON for 60,000 VMAs, 450 ms that used to
# be spent with the target stopped). Everything that could be decided outside the stop was
# decided by src/collect/gdb.ts and arrives in the JSON file named by $HEAPGAP_PARAMS; this script only
# does what needs the target stopped: pick a thread that holds no allocator lock, make the calls, read
# allocator metadata, clean up. It never raises: every outcome goes to the result file.
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
RESULT = {"ok": False, "error": None, "steps": [], "thread": None, "rejected": {},
          "mallocInfo": None, "layout": None, "smapsBefore": None, "smapsAfter": None,
          "trimReturned": None, "callMs": 0.0, "interrupted": False, "cleanup": []}
INF = None  # bound by heapgap_main(), once attached
SMAPS = {}  # trim mode: smaps bytes read in the stop, "before" and "after" malloc_trim
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
    RESULT["steps"].append([round((time.monotonic() - T_ENTER) * 1000, 3), msg])
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
    return None, False


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
    lock, and unwinding it then would leave that lock held forever."""

    def __init__(self, tid, sig, budget_ms):
        super().__init__(daemon=True)
        self.tid, self.sig, self.budget = tid, sig, budget_ms / 1000.0
        self.done = threading.Event()
        self.fired = False

    def run(self):
        start = time.monotonic()
        while not self.done.wait(0.005):
            late = time.monotonic() - start > self.budget
            if (late or aborted()) and thread_syscall(self.tid) == SYS_FUTEX:
                self.fired = True
                LIBC.syscall(SYS_TGKILL, PID, self.tid, self.sig)
                return


def call(expr, interruptible=None, cleanup=False):
    """Runs one inferior call; interruptible = (tid, signal, budget_ms) for calls safe to unwind.
    Once heapgap asks to stop, only cleanup calls start; none starts once heapgap took the token."""
    if not cleanup and aborted():
        raise Refused("asked to stop before the next call")
    if not take_gate():
        raise Refused("heapgap is ending this gdb session; no further call is made")
    dog = Watchdog(*interruptible) if interruptible else None
    t0 = time.monotonic()
    mark("call")
    if dog:
        dog.start()
    try:
        value = gdb.parse_and_eval(expr)
        STATE["calls"] += 1
        return int(value)
    except gdb.error as e:
        if dog and dog.fired:
            RESULT["interrupted"] = True
            if aborted():
                raise Refused("the call was unwound on request; the target's state was restored")
            raise Refused("the call waited on an allocator lock longer than %d ms and was unwound; "
                          "the target's state was restored" % int(interruptible[2]))
        raise
    finally:
        # The watchdog is finished before anything else: a late tgkill would unwind the next call.
        if dog:
            dog.done.set()
            dog.join()
        # gdb has restored the registers (or unwound the call) by the time it returns here
        mark("return")
        give_gate()
        RESULT["callMs"] += (time.monotonic() - t0) * 1000


def fn(name, proto):
    return "((%s)%s)" % (proto, P["addr"][name])


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


# ---- allocator metadata, read while stopped --------------------------------------------------

def read_layout():
    lay = P.get("layout")
    if not lay:
        return {"arenas": [], "note": "no malloc_state layout known for this glibc"}
    hm, hsz = lay["heapMax"], lay["heapInfoSize"]
    o_top, o_next, o_sys = lay["top"], lay["next"], lay["systemMem"]
    start = None
    for c in P["heapCandidates"]:
        base = int(c, 16)
        try:
            ar, prev, size, mprot = struct.unpack("<QQQQ", mem(base, 32))
        except gdb.MemoryError:
            continue
        if ar == base + hsz and 0 < size <= hm and size <= mprot <= hm:
            start = ar
            break
    if start is None:
        return {"arenas": [], "note": "no thread arena heap found"}
    ring, a = [], start
    while len(ring) < 65536:
        ring.append(a)
        a = u64(a + o_next)
        if a == start or a == 0:
            break
    mains = [x for x in ring if (x - hsz) % hm != 0]
    if len(mains) != 1:
        return {"arenas": [], "note": "arena ring did not contain exactly one main arena"}
    i = ring.index(mains[0])
    ordered = ring[i:] + ring[:i]
    arenas = []
    for idx, ar in enumerate(ordered):
        if idx % 64 == 0:  # progress for heapgap on rings of thousands of arenas, at little cost
            mark("arena")
        entry = {"index": idx, "address": hex(ar), "systemMem": u64(ar + o_sys), "top": hex(u64(ar + o_top)), "heaps": []}
        if idx > 0:
            h = u64(ar + o_top) & ~(hm - 1)
            seen = 0
            while h and seen < 100000:
                har, prev, size, mprot = struct.unpack("<QQQQ", mem(h, 32))
                if har != ar:
                    entry["note"] = "heap chain left the arena at %s" % hex(h)
                    break
                entry["heaps"].append({"start": hex(h), "size": size, "mprotectSize": mprot})
                h, seen = prev, seen + 1
            entry["heaps"].reverse()
        arenas.append(entry)
    return {"arenas": arenas, "note": None}


def read_channel(fd):
    """The memfd's contents: from /proc/PID/fd/N, or, when file permissions forbid that (CAP_SYS_PTRACE
    without the target's uid), by mapping the memfd read-only in the target and reading it through
    ptrace. Neither touches the target's heap."""
    if P.get("channel") != "mmap":
        try:
            return read_text("/proc/%d/fd/%d" % (PID, fd))
        except OSError:
            pass
    size = call("%s(%d, 0L, 2)" % (fn("lseek", "long(*)(int, long, int)"), fd))
    if size <= 0:
        return ""
    addr = call("(unsigned long)%s((void*)0, %dUL, 1, 1, %d, 0L)" % (fn("mmap", "void*(*)(void*, unsigned long, int, int, int, long)"), size, fd))
    if addr in (0, (1 << 64) - 1):
        raise Refused("cannot read the malloc_info output: /proc/PID/fd is not readable and mmap failed")
    try:
        RESULT["channel"] = "mmap"
        return mem(addr, size).decode("latin-1")
    finally:
        call("%s(%dUL, %dUL)" % (fn("munmap", "int(*)(void*, unsigned long)"), addr, size), cleanup=True)


def read_text(path):
    return read_bytes(path).decode("latin-1")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


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
    budget = P["callBudgetMs"]
    if sig:
        gdb.execute("handle %s stop print nopass" % signame, to_string=True)
    guard = (tid, sig, budget) if sig else None
    fd, fp = -1, 0
    try:
        fd = call("%s(%s, 1U)" % (fn("memfd_create", "int(*)(void*, unsigned int)"), P["addr"]["name"]))
        if fd < 0:
            raise Refused("memfd_create failed in the target (seccomp?)")
        RESULT["cleanup"].append("memfd %d" % fd)
        fp = call("(unsigned long)%s(%d, %s)" % (fn("fdopen", "void*(*)(int, void*)"), fd, P["addr"]["mode"]))
        if fp == 0:
            raise Refused("fdopen failed in the target")
        call("%s(%dUL, (void*)0, 2, 0UL)" % (fn("setvbuf", "int(*)(void*, void*, int, unsigned long)"), fp))
        step("channel ready")
        rc = call("%s(0, %dUL)" % (fn("malloc_info", "int(*)(int, void*)"), fp), guard)
        step("malloc_info returned %d" % rc)
        RESULT["mallocInfo"] = read_channel(fd)
        RESULT["layout"] = read_layout()
        step("layout read")
        if P["mode"] == "trim" and not aborted():
            # Bytes in the stop; decoded by heapgap_finish, after detach (30 ms per 43 MB).
            SMAPS["before"] = read_bytes("/proc/%d/smaps" % PID)
            step("smaps before")
            # Never unwound: malloc_trim holds each arena lock through its madvise loop.
            RESULT["trimReturned"] = call("%s(%dUL)" % (fn("malloc_trim", "int(*)(unsigned long)"), P["pad"]))
            step("malloc_trim returned %d" % RESULT["trimReturned"])
            SMAPS["after"] = read_bytes("/proc/%d/smaps" % PID)
            step("smaps after")
    finally:
        if fp:
            RESULT["cleanup"].append("fclose -> %d" % call("%s(%dUL)" % (fn("fclose", "int(*)(void*)"), fp), cleanup=True))
        elif fd >= 0:
            RESULT["cleanup"].append("close -> %d" % call("%s(%d)" % (fn("close", "int(*)(int)"), fd), cleanup=True))
        if sig:
            gdb.execute("handle %s nostop noprint pass" % signame, to_string=True)
    RESULT["ok"] = True


def heapgap_main():
    global INF, PID, T_ENTER
    T_ENTER = time.monotonic()
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
    mark("done")


def heapgap_finish():
    """Runs after `detach`. gdb runs every -ex command even when one fails (a failed attach makes
    heapgap_main record a refusal), so the result file is always written, and never in the stop."""
    mark("finish")
    for when in ("before", "after"):
        if when in SMAPS:
            RESULT["smaps" + when.capitalize()] = SMAPS.pop(when).decode("latin-1")
    with open(P["resultFile"], "w") as out:
        json.dump(RESULT, out)
