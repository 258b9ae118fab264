# glibc malloc's part of the stop (run by src/collect/safe-call/driver.py, which hands it a Ctx).
# collect(): malloc_info into a memfd, then the arena ring read from the target's memory (a few
# hundred bytes). release(): malloc_trim(pad). Offsets and candidates were decided before attach
# by src/allocators/glibc/prepare.ts.
import struct


def collect(ctx, p):
    out = {}

    def write(fp):
        rc = ctx.call("%s(0, %s)" % (ctx.fn("malloc_info", "int(*)(int, void*)"), fp), interruptible=True)
        ctx.step("malloc_info returned %d" % rc)

    # The ring first: it joins the stretch of the stop before the first call instead of making one
    # more stop between calls (the process is stopped for the sum; its threads feel the longest).
    out["layout"] = read_layout(ctx, p)
    ctx.step("layout read")
    out["mallocInfo"] = ctx.memfd_text(write)
    return out


def release(ctx, p):
    # Never unwound: malloc_trim holds each arena lock through its madvise loop.
    return {"returned": ctx.call("%s(%dUL)" % (ctx.fn("malloc_trim", "int(*)(unsigned long)"), p["pad"]))}


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
