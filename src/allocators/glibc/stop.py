# glibc malloc's part of the stop (run by src/collect/safe-call/driver.py, which hands it a Ctx).
# precheck(): every arena's free lists walked from outside, as malloc_info and malloc_trim would walk
# them, with glibc's own checks (stop_checks.py, heap_check.py): a broken list makes those calls abort
# or loop holding the arena lock, so then no call is made at all.
# collect(): malloc_info into a memfd, then the arena ring read from the target's memory (a few
# hundred bytes). release(): the lists checked again (the threads ran in between), malloc_trim(pad).
# before_attach(): the lists walked once while the process runs, so that the walks in the stop are short.
# after_failure(): a call stopped by a signal inside the allocator: which arena lock it left held,
# and whether releasing it is safe. Offsets and candidates were decided before attach by prepare.ts.
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


checks = sibling("stop_checks")
SEEN = {"ring": []}  # the arenas of the last check, in ring order (for after_failure)


PRE = {}  # the walk made before attach, while the process ran


def checking(p):
    return p.get("layout") and p.get("heapCheck") and not p["heapCheck"].get("skip")


# The walk before attach takes at most this share of the time left to the run; before a trim it may
# take all of it but TRIM_RESERVE_S (inspect: heapCheck.beforeMs). Attach, malloc_info and
# malloc_trim over the same lists, and heapgap's own reading of the heap afterwards, need the rest.
WALK_SHARE = 0.75
TRIM_RESERVE_S = 5.0


def before_attach(p):
    """Every list walked once while the process still runs (through /proc/PID/mem, racy: lists
    change under the walk), so that the walk in the stop can be short. Only a walk that found
    nothing wrong is trusted; before malloc_trim, only one that reached every list (see precheck)."""
    if not checking(p) or not p["heapCheck"].get("stopMs"):
        return None
    try:
        fd, pread = checks.proc_mem_reader(p["heapCheck"]["pid"])
    except OSError as e:
        PRE["check"] = {"error": str(e)}
        return PRE["check"]
    reads = [0]

    def read(addr, n):
        # heapgap tells a slow gdb from a stuck one by the driver's progress marks
        reads[0] += 1
        if reads[0] % 1024 == 0:
            progress("prewalk")
        return pread(addr, n)

    # Bounded in time (a busy machine gives gdb little CPU, and heapgap is waiting). For inspect a
    # walk cut by time is trusted as far as it went, like one cut by steps (the check is then
    # incomplete, and says so): walking the rest in the stop stopped a 1 GiB heap for 6 s at load 5.
    # Before a trim it may go on for most of the time the run has left.
    hc = p["heapCheck"]
    steps = hc.get("beforeSteps", hc["steps"])
    limit = hc["beforeMs"] / 1000.0
    if p.get("deadline"):
        left = p["deadline"] / 1000.0 - time.time()
        if p.get("mode") == "trim":
            limit = max(limit, left - TRIM_RESERVE_S)
        limit = min(limit, left * WALK_SHARE)
    try:
        v = checks.check_heap(read, dict(p, heapCheck=dict(hc, steps=steps)), time.monotonic() + limit)
    finally:
        os.close(fd)
    PRE["check"] = {"ms": v["ms"], "complete": not v["incomplete"], "timedOut": v["timedOut"],
                    "clean": not v["corrupt"] and not v["busy"] and not v["ring"], "arenas": len(v["arenas"]), "pageReads": v["pageReads"],
                    "chunks": sum(a["figures"].get("fastChunks", 0) + a["figures"].get("binChunks", 0) for a in v["arenas"]), "steps": steps}
    return PRE["check"]


def too_big(p):
    return ("the heap has more free chunks than heapgap checks in one stop (%d); malloc_trim, which madvises by the sizes it reads, "
            "is only called on a heap checked whole" % p["heapCheck"]["steps"])


def not_reached(pre):
    if pre.get("timedOut"):
        return ("the walk of the free lists before attach had not reached every list when its time ran out (%d chunks in %.1f s, while "
                "the process ran); malloc_trim, which madvises by the sizes it reads, is only called on a heap whose every list was "
                "walked: raise --timeout (the walk takes about 10 us per free chunk)" % (pre.get("chunks", 0), pre.get("ms", 0) / 1000.0))
    return ("the heap has more free chunks than the walk before attach visits (%d); malloc_trim, which madvises by the sizes it reads, "
            "is only called on a heap whose every list was walked (HEAPGAP_HEAP_CHECK_BEFORE_STEPS)" % pre.get("steps", 0))


def stop_deadline(p, pre):
    """The walk in the stop is cut by time only after a clean walk before attach (inspect), or a
    clean and complete one (trim): that walk covers what the short one does not reach."""
    ms = p["heapCheck"].get("stopMs")
    if not ms or not pre.get("clean") or (p.get("mode") == "trim" and not pre.get("complete")):
        return None
    return time.monotonic() + ms / 1000.0


def precheck(ctx, p):
    if not checking(p):
        return {"skipped": True}
    # An arena whose lock a stopped thread holds may be caught half way through an update (seen on
    # busy targets: top's size not yet written). malloc_info waits for that lock, and by the time it
    # has it the update is done: such an arena is left unverified rather than called corrupt, and a
    # real corruption there is caught by the failure path. Not so before malloc_trim (release).
    #
    # When the walk before attach (before_attach) found nothing wrong, the walk in the stop gets
    # heapCheck.stopMs and that earlier walk covers the rest. Trade-off: a list broken in the seconds
    # between the two walks, in a part the short one did not reach, reaches the call; as one broken
    # while the call runs would (every other thread runs during a call). malloc_info only reads the
    # lists, and the failure path bounds it. Before malloc_trim the earlier walk must have reached
    # every list: when it did not, trim refuses here, before any call.
    pre = PRE.get("check") or {}
    if p.get("mode") == "trim" and pre.get("clean") and not pre.get("complete"):
        raise Refused("trim refused before any call: " + not_reached(pre), "unchecked")
    deadline = stop_deadline(p, pre)
    v = checks.check_heap(ctx.read, p, deadline)
    v["before"] = pre or None
    if v["timedOut"] and not v["corrupt"]:
        v["incomplete"], v["coveredBefore"] = not pre.get("complete"), True
    return verdict(v, strict=False)


def verdict(v, strict):
    """What the driver acts on: corrupt (no call), busy (try again; strict only), else go on."""
    SEEN["ring"] = [int(a["address"], 16) for a in v["arenas"]]
    v["summary"] = "; ".join(x["text"] for x in v["corrupt"][:3]) + ("; and %d more" % (len(v["corrupt"]) - 3) if len(v["corrupt"]) > 3 else "")
    v["unverified"] = sorted({a["index"] for a in v["arenas"] if a["mutex"] and any(x["corrupt"] for x in a["problems"])})
    if v["busy"] and not v["corrupt"] and strict:
        x = v["busy"][0]
        v["busy"] = "a thread stopped inside the allocator holds the lock of an arena whose lists are half-changed (%s)" % x["text"]
    else:
        v["busy"] = None
    return v


def collect(ctx, p):
    out = {}

    def write(fp):
        # malloc_info only reads the arenas: should it compute forever (a list that does not end, in
        # a part the check had no time for), it is unwound a second after heapgap asks to stop, or
        # after 10 s (about 100 times what it takes on a million free chunks), and after_failure
        # gives back the lock it held.
        rc = ctx.call("%s(0, %s)" % (ctx.fn("malloc_info", "int(*)(int, void*)"), fp), interruptible=True, unwind_after=(1.0, 10.0), what="malloc_info")
        ctx.step("malloc_info returned %d" % rc)

    # The ring first: it joins the stretch of the stop before the first call instead of making one
    # more stop between calls (the process is stopped for the sum; its threads feel the longest).
    out["layout"] = read_layout(ctx, p)
    ctx.step("layout read")
    out["mallocInfo"] = ctx.memfd_text(write)
    return out


def release(ctx, p):
    if checking(p):
        # The threads ran during malloc_info: the lists are walked again, with the same time budget
        # as the first walk in the stop when the walk before attach reached every list cleanly.
        v = verdict(checks.check_heap(ctx.read, p, stop_deadline(dict(p, mode="trim"), PRE.get("check") or {})), strict=True)
        ctx.step("checked again before malloc_trim (%.1f ms%s)" % (v["ms"], ", cut by its time budget" if v["timedOut"] else ""))
        if v["corrupt"]:
            raise Refused("the heap is corrupt: %s; malloc_trim was not called" % v["corrupt"][0]["text"], "heap-corrupt")
        if v["busy"]:
            raise Refused(v["busy"], "busy")
        if v["incomplete"] and not v["timedOut"]:
            raise Refused("trim refused before malloc_trim: " + too_big(p), "unchecked")
    # Not unwound while it waits or works: it holds each arena lock through its madvise loop. Only
    # when heapgap has asked to stop and it still runs 10 s later (a loop in a broken heap) is it
    # unwound; after_failure then checks the arena before giving its lock back.
    return {"returned": ctx.call("%s(%dUL)" % (ctx.fn("malloc_trim", "int(*)(unsigned long)"), p["pad"]), unwind_after=(10.0, None), what="malloc_trim")}


def after_failure(ctx, p, failure):
    """A call was stopped by a signal inside the target (abort, fault, or heapgap's own signal to a
    call that did not return) and gdb unwound it. malloc_info and malloc_trim hold one arena lock at
    a time; an unwound call does not give it back. The lock is the call's when it is the only arena
    lock held and no other thread is inside the allocator (threads only waiting on it, in futex, do
    not hold it). It is given back (as glibc's unlock does) when the arena is as the program left
    it: always after malloc_info, which only reads; after malloc_trim, which changes the lists, only
    when they check out whole. Anything else is left as it is and said."""
    ring = SEEN["ring"] or checks.find_ring(checks.hc.Memory(ctx.read), p)[1]
    if not ring:
        return {"error": "the arena ring could not be read", "leftHeld": ["unknown"]}
    held = checks.held_locks(ctx.read, ring)
    out = {"held": [], "released": [], "leftHeld": [], "threadsInAllocator": []}
    if not held:
        return out
    others = ctx.threads_in_allocator()
    out["threadsInAllocator"] = others
    reads_only = failure["call"] == "malloc_info"
    for a, value in held:
        entry = {"arena": ring.index(a), "address": "0x%x" % a, "value": value}
        out["held"].append(entry)
        holders = [t for t in others if t["futexWait"] != a]
        if len(held) > 1 or holders:
            out["leftHeld"].append(dict(entry, why="another thread is inside the allocator and may hold it (%s)" % ", ".join("%d: %s" % (t["tid"], t["where"]) for t in holders[:3])
                                        if holders else "more than one arena lock is held; the failed call held one at most"))
            continue
        if not reads_only:
            problems = [x for x in checks.hc.check_arena(checks.hc.Memory(ctx.read), a, checks.layout_of(p), checks.main_bounds(checks.hc.Memory(ctx.read), p, ring[0], True) if a == ring[0] else [], is_main=a == ring[0]) if x["corrupt"]]
            if problems:
                out["leftHeld"].append(dict(entry, why="%s left this arena's lists inconsistent (%s): giving the lock back would let the program allocate from them" % (failure["call"], checks.hc.problem_text(problems[0], entry["arena"]))))
                continue
        done = ctx.unlock(a)
        out["released"].append(dict(entry, woke=done["woke"], why="the lock was the failed call's own (no other thread was inside the allocator) and %s" % (
            "malloc_info only reads the arena" if reads_only else "the arena's lists check out whole")))
    return out


def read_layout(ctx, p):
    """The arena ring from a thread heap's heap_info: each arena's malloc_state address, system_mem,
    top, and its chain of heaps. Bounded however the ring looks."""
    lay = p.get("layout")
    if not lay:
        return {"arenas": [], "note": "no malloc_state layout known for this glibc"}
    hm, hsz = lay["heapMax"], lay["heapInfoSize"]
    o_top, o_next, o_sys = lay["top"], lay["next"], lay["systemMem"]
    start = None
    for c in p["heapCandidates"]:
        base = int(c, 16)
        try:
            ar, prev, size, mprot = struct.unpack("<QQQQ", ctx.read(base, 32))
        except Exception:  # noqa: BLE001 - an unreadable candidate is simply not a heap
            continue
        if ar == base + hsz and 0 < size <= hm and size <= mprot <= hm:
            start = ar
            break
    if start is None:
        return {"arenas": [], "note": "no thread arena heap found"}
    ring, a = [], start
    while len(ring) < 65536:
        ring.append(a)
        a = ctx.u64(a + o_next)
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
            ctx.step("arena %d" % idx)
        entry = {"index": idx, "address": hex(ar), "systemMem": ctx.u64(ar + o_sys), "top": hex(ctx.u64(ar + o_top)), "heaps": []}
        if idx > 0:
            h = ctx.u64(ar + o_top) & ~(hm - 1)
            seen = 0
            while h and seen < 100000:
                har, prev, size, mprot = struct.unpack("<QQQQ", ctx.read(h, 32))
                if har != ar:
                    entry["note"] = "heap chain left the arena at %s" % hex(h)
                    break
                entry["heaps"].append({"start": hex(h), "size": size, "mprotectSize": mprot})
                h, seen = prev, seen + 1
            entry["heaps"].reverse()
        arenas.append(entry)
    return {"arenas": arenas, "note": None}
