# A stand-in for the protocol core (src/collect/safe-call/driver.py) with the ctx API of PLAN.md,
# so the allocators' stop.py files can be proved on live targets before the seam lands. It keeps the
# core's rules that matter to a stop.py: a thread parked at a syscall inside libc with no frame in
# the forbidden ranges, calls by absolute address, scratch memory mmapped in the target (never its
# heap) and unmapped in a finally, memfd output read from outside. It has no watchdog and no call
# token: tests only.
import json
import os
import re
import struct
import time

import gdb

P = json.load(open(os.environ["HEAPGAP_PARAMS"]))
RESULT = {"ok": False, "error": None, "steps": [], "collect": None, "release": None, "thread": None,
          "calls": 0, "callMs": 0.0, "rollupBefore": None, "rollupAfter": None, "cleanup": []}
T0 = time.monotonic()


class Refused(Exception):
    pass


def in_ranges(pc, ranges):
    return any(lo <= pc < hi for lo, hi in ranges)


RANGES = [(int(a, 16), int(b, 16)) for a, b in P["forbiddenRanges"]]
TEXT = [(int(a, 16), int(b, 16)) for a, b in P["libcText"]]
FORBID = re.compile(r"malloc|free|calloc|realloc|memalign|_int_|arena|tcache|fork|_dl_|dlopen|_IO_|fopen|fclose|printf|exit")


def verdict(th):
    th.switch()
    frame = gdb.newest_frame()
    pc = frame.pc()
    if not in_ranges(pc, TEXT):
        return "not inside libc"
    if bytes(gdb.selected_inferior().read_memory(pc - 2, 2)) != b"\x0f\x05":
        return "not at a syscall"
    depth = 0
    while frame is not None and depth < 96:
        if frame.type() == gdb.SIGTRAMP_FRAME:
            return "signal handler"
        name = frame.name() or ""
        at = frame.pc() - (0 if depth == 0 else 1)
        if (name and FORBID.search(name)) or in_ranges(at, RANGES):
            return "inside %s" % (name or hex(at))
        try:
            frame = frame.older()
        except gdb.error:
            break
        depth += 1
    return None


class Ctx:
    def __init__(self, inf):
        self.inf = inf
        self.maps = []  # (addr, size) made with mmap, unmapped at cleanup

    def call(self, expr, interruptible=False):
        t = time.monotonic()
        try:
            return int(gdb.parse_and_eval(expr))
        finally:
            RESULT["calls"] += 1
            RESULT["callMs"] += (time.monotonic() - t) * 1000

    def fn(self, name, proto):
        return "((%s)%s)" % (proto, P["addr"][name])

    def read(self, addr, n):
        return bytes(self.inf.read_memory(addr, n))

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def write(self, addr, data):
        if not any(a <= addr and addr + len(data) <= a + n for a, n in self.maps):
            raise Refused("write outside heapgap's scratch mapping")
        self.inf.write_memory(addr, data)

    def scratch(self, nbytes):
        n = (nbytes + 4095) & ~4095
        mmap = self.fn("mmap", "void*(*)(void*, unsigned long, int, int, int, long)")
        addr = self.call("(unsigned long)%s((void*)0, %dUL, 3, 0x22, -1, 0L)" % (mmap, n))
        if addr in (0, (1 << 64) - 1):
            raise Refused("mmap of scratch memory failed in the target")
        self.maps.append((addr, n))
        return addr

    def memfd_text(self, writer):
        name = self.scratch(64)
        self.write(name, b"heapgap\0")
        self.write(name + 16, b"w\0")
        fd = self.call("%s((void*)%d, 1U)" % (self.fn("memfd_create", "int(*)(void*, unsigned int)"), name))
        if fd < 0:
            raise Refused("memfd_create failed")
        fp = 0
        try:
            fp = self.call("(unsigned long)%s(%d, (void*)%d)" % (self.fn("fdopen", "void*(*)(int, void*)"), fd, name + 16))
            if fp == 0:
                raise Refused("fdopen failed")
            self.call("%s((void*)%d, (void*)0, 2, 0UL)" % (self.fn("setvbuf", "int(*)(void*, void*, int, unsigned long)"), fp))
            writer("(void*)%d" % fp)
            with open("/proc/%d/fd/%d" % (P["pid"], fd), "rb") as f:
                return f.read().decode("latin-1")
        finally:
            if fp:
                self.call("%s((void*)%d)" % (self.fn("fclose", "int(*)(void*)"), fp))
            else:
                self.call("%s(%d)" % (self.fn("close", "int(*)(int)"), fd))

    def step(self, msg):
        RESULT["steps"].append([round((time.monotonic() - T0) * 1000, 3), msg])

    def refuse(self, msg):
        raise Refused(msg)

    def cleanup(self):
        munmap = self.fn("munmap", "int(*)(void*, unsigned long)")
        for addr, n in self.maps:
            RESULT["cleanup"].append("munmap -> %d" % self.call("%s((void*)%d, %dUL)" % (munmap, addr, n)))
        self.maps = []


def rollup():
    with open("/proc/%d/smaps_rollup" % P["pid"]) as f:
        return f.read()


def harness_main():
    global T0
    T0 = time.monotonic()
    inf = gdb.selected_inferior()
    ctx = Ctx(inf)
    try:
        chosen, rejected = None, {}
        for th in sorted(inf.threads(), key=lambda t: t.ptid[1] != P.get("preferTid", 0)):
            why = verdict(th)
            if why is None:
                chosen = th
                break
            rejected[th.ptid[1]] = why
        if chosen is None:
            raise Refused("no safe thread: %s" % rejected)
        chosen.switch()
        RESULT["thread"] = chosen.ptid[1]
        ns = {"__name__": "stop"}
        exec(compile(open(P["script"]).read(), P["script"], "exec"), ns)
        try:
            RESULT["collect"] = ns["collect"](ctx, P["params"])
            if P.get("mode") == "trim":
                RESULT["rollupBefore"] = rollup()
                RESULT["release"] = ns["release"](ctx, P["params"])
                RESULT["rollupAfter"] = rollup()
        finally:
            ctx.cleanup()
        RESULT["ok"] = True
    except Refused as e:
        RESULT["error"] = {"kind": "refused", "message": str(e)}
    except Exception as e:  # noqa: BLE001
        RESULT["error"] = {"kind": "failed", "message": "%s: %s" % (type(e).__name__, e)}
    RESULT["driverMs"] = (time.monotonic() - T0) * 1000


def harness_finish():
    with open(P["resultFile"], "w") as out:
        json.dump(RESULT, out)
