# glibc's checks in the stop, between the driver's Ctx and heap_check.py (pure): no gdb import.
# check_heap(): every arena of the ring, walked from outside before any call into the allocator
#   (and again before malloc_trim: the threads ran during the calls in between).
# audit_locks(): after a call failed inside the allocator, which arena locks are held, whether the
#   failed call left them, and whether releasing them is safe.
import importlib.util
import os
import struct
import sys
import time


def sibling(name):
    """A module next to this file, under a name of its own (stop.py files are not on sys.path)."""
    key = "heapgap_glibc_" + name
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, os.path.join(os.path.dirname(__file__), name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


hc = sibling("heap_check")

NONCONTIGUOUS = 2  # malloc_state.flags bit: the main arena is not one brk heap


def layout_of(p):
    lay = dict(p["layout"])
    lay.update(safeLinking=p["heapCheck"]["safeLinking"], pageSize=p["heapCheck"]["pageSize"])
    return lay


def find_ring(mem, p):
    """(main_arena, ring in malloc_info's order, ring problems). The ring is entered from a thread
    heap's heap_info (its arena's `next` leads round to main_arena) or, with one arena only, from
    main_arena found in libc's writable data."""
    lay = p["layout"]
    hm, hsz = lay["heapMax"], lay["heapInfoSize"]
    main = None
    for c in p["heapCandidates"]:
        base = int(c, 16)
        try:
            ar, _, size, mprot = mem.words(base, 4)
        except hc.Unreadable:
            continue
        if ar != base + hsz or not (0 < size <= hm and size <= mprot <= hm):
            continue
        a, seen = ar, 0
        while seen < 1 << 16:
            try:
                a = mem.u64(a + lay["next"])
            except hc.Unreadable:
                break
            if (a - hsz) % hm:
                main = a
                break
            if a == ar:
                break
            seen += 1
        if main is not None:
            break
    if main is None:
        lo, hi = (int(x, 16) for x in p["heapCheck"]["libcData"])
        main = hc.find_main_arena(mem, lo, hi, layout_of(p))
    if main is None:
        return None, [], [{"list": "ring", "bin": None, "chunk": None, "arena": None, "corrupt": False,
                           "what": "main_arena was not found", "cause": "an unknown glibc layout"}]
    ring, problems = hc.check_ring(mem, main, layout_of(p))
    return main, ring, problems


def main_bounds(mem, p, main, fresh):
    """Where the main arena's chunks may lie: its brk heap (from maps read before attaching, or
    read again now), or every anonymous read-write mapping when it is not contiguous."""
    try:
        flags = struct.unpack("<i", mem.bytes(main + 4, 4))[0]
    except hc.Unreadable:
        flags = 0
    if not flags & NONCONTIGUOUS and not fresh:
        return [tuple(int(x, 16) for x in r) for r in p["heapCheck"]["mainRanges"]]
    out = []
    with open("/proc/%d/maps" % p["heapCheck"]["pid"]) as f:
        for line in f:
            parts = line.split()
            path = parts[5] if len(parts) > 5 else ""
            if path == "[heap]" or (flags & NONCONTIGUOUS and path == "" and parts[1].startswith("rw")):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def check_heap(read, p, deadline=None):
    """Every arena checked; the verdict:
    corrupt     problems in arenas whose lock is free (no thread can be half way through an update:
                every allocator path that changes a list holds the lock, fastbin pushes are atomic,
                and a single-threaded process was stopped outside the allocator)
    busy        problems only in arenas whose lock a stopped thread holds: caught mid-update, maybe
    incomplete  the step budget (or the deadline) ran out: some lists were not walked."""
    t0 = time.monotonic()
    mem = hc.Memory(read)
    lay = layout_of(p)
    main, ring, ring_problems = find_ring(mem, p)
    budget = hc.Budget(p["heapCheck"]["steps"], deadline)
    arenas, corrupt, busy, incomplete = [], list(ring_problems), [], False
    for i, a in enumerate(ring):
        figures = {}
        is_main = a == main
        bounds = main_bounds(mem, p, main, False) if is_main else []
        problems = hc.check_arena(mem, a, lay, bounds, is_main=is_main, budget=budget, figures=figures)
        if is_main and any(x["corrupt"] for x in problems):
            # brk may have grown since maps was read: confirm against the heap as it is now
            problems = hc.check_arena(mem, a, lay, main_bounds(mem, p, main, True), is_main=True, budget=budget, figures=figures)
        try:
            mutex = struct.unpack("<i", mem.bytes(a, 4))[0]
        except hc.Unreadable:
            mutex = None
        for x in problems:
            x["text"] = hc.problem_text(x, i)
        arenas.append({"index": i, "address": hc.hx(a), "mutex": mutex, "figures": figures, "problems": problems})
        bad = [x for x in problems if x["corrupt"]]
        (busy if mutex else corrupt).extend(bad)
        incomplete = incomplete or any(x["list"] == "budget" for x in problems)
    for x in ring_problems:
        x["text"] = hc.problem_text(x)
    return {"ms": round((time.monotonic() - t0) * 1000, 3), "main": hc.hx(main) if main else None, "arenas": arenas,
            "ring": ring_problems, "corrupt": corrupt, "busy": busy, "incomplete": incomplete, "timedOut": budget.timed_out, "pageReads": mem.reads,
            "steps": p["heapCheck"]["steps"]}


def held_locks(read, ring):
    """Arena mutex words that are not 0: (arena address, value). 1 = held, 2 = held with waiters."""
    mem = hc.Memory(read)
    out = []
    for a in ring:
        try:
            v = struct.unpack("<i", mem.bytes(a, 4))[0]
        except hc.Unreadable:
            continue
        if v:
            out.append((a, v))
    return out


def proc_mem_reader(pid):
    """read(addr, n) over /proc/PID/mem, for a walk while the process runs (before attach)."""
    fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)

    def read(addr, n):
        return os.pread(fd, n, addr)

    return fd, read
