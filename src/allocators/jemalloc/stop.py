# jemalloc, in the stop: mallctl() called by the absolute address heapgap resolved from the
# library's (or the executable's) dynsym, names and out-params in heapgap's scratch mapping.
# Every call is one mallctl; none is interruptible (epoch and purge hold ctl_mtx while they take
# the arenas' own locks: unwinding one would leave a lock held for good).
# malloc_stats_print is not used: its write callback takes (opaque, text), and the only libc
# functions with that shape are format functions or unbounded copies.
import struct

MALLCTL = "int(*)(void*, void*, void*, void*, unsigned long)"
ALL = 4096  # MALLCTL_ARENAS_ALL
OLD, OLDLEN, NEW, NAME = 0, 64, 72, 128
# (name, kind) read once per process; kinds: z size_t, s ssize_t, u unsigned, b bool, p char*
GLOBAL = [
    ("version", "p"), ("arenas.page", "z"), ("arenas.narenas", "u"),
    ("stats.allocated", "z"), ("stats.active", "z"), ("stats.resident", "z"), ("stats.mapped", "z"),
    ("stats.retained", "z"), ("stats.metadata", "z"),
    ("stats.arenas.%d.pdirty" % ALL, "z"), ("stats.arenas.%d.pmuzzy" % ALL, "z"),
    ("stats.arenas.%d.tcache_bytes" % ALL, "z"), ("stats.arenas.%d.pactive" % ALL, "z"),
    ("opt.dirty_decay_ms", "s"), ("opt.muzzy_decay_ms", "s"), ("opt.background_thread", "b"),
    ("background_thread", "b"), ("opt.narenas", "u"), ("opt.retain", "b"), ("opt.tcache", "b"),
    ("opt.thp", "p"), ("opt.percpu_arena", "p"), ("opt.dss", "p"), ("opt.tcache_max", "z"),
    ("opt.oversize_threshold", "z"), ("arenas.dirty_decay_ms", "s"), ("arenas.muzzy_decay_ms", "s"),
]
# Per arena, ten calls (about 2 ms each here): what the arena's held-free split needs. The first
# answers ENOENT for an arena that was never initialised, which ends that arena's reading.
PER_ARENA = [
    ("nthreads", "u"), ("pactive", "z"), ("pdirty", "z"), ("pmuzzy", "z"), ("mapped", "z"),
    ("retained", "z"), ("resident", "z"), ("tcache_bytes", "z"), ("small.allocated", "z"),
    ("large.allocated", "z"),
]
# Arenas collect() found initialised: release() reads each one's figures around the purge.
SEEN = {"arenas": []}
SIZES = {"z": 8, "s": 8, "u": 4, "b": 1, "p": 8}
FORMATS = {"z": "<Q", "s": "<q", "u": "<I", "b": "<B", "p": "<Q"}



# One scratch mapping per session: collect() makes it, release() reuses it, so nothing is mapped
# (and made resident) between the smaps_rollup reads around the release call.
BUFFERS = {}


def buffer(ctx, nbytes):
    if id(ctx) not in BUFFERS:
        BUFFERS[id(ctx)] = ctx.scratch(nbytes)
    return BUFFERS[id(ctx)]

class Ctl:
    def __init__(self, ctx, fn_name):
        self.ctx = ctx
        self.buf = buffer(ctx, 4096)
        self.fn = ctx.fn(fn_name, MALLCTL)
        self.errors = {}

    def raw(self, name, size, new=None):
        """mallctl(name, old, &oldlen, new, newlen): (rc, bytes read back)."""
        b, ctx = self.buf, self.ctx
        ctx.write(b + NAME, name.encode() + b"\0")
        ctx.write(b + OLDLEN, struct.pack("<Q", size))
        if new is not None:
            ctx.write(b + NEW, new)
        old = "(void*)%d, (void*)%d" % (b + OLD, b + OLDLEN) if size else "(void*)0, (void*)0"
        newp = "(void*)%d, %dUL" % (b + NEW, len(new)) if new is not None else "(void*)0, 0UL"
        rc = ctx.call("%s((void*)%d, %s, %s)" % (self.fn, b + NAME, old, newp))
        if rc != 0:
            self.errors[name] = rc
            return rc, None
        return rc, ctx.read(b + OLD, size) if size else b""

    def get(self, name, kind):
        rc, data = self.raw(name, SIZES[kind])
        if data is None:
            return None
        value = struct.unpack(FORMATS[kind], data)[0]
        if kind == "b":
            return bool(value)
        if kind == "p":
            return self.string(value)
        return value

    def string(self, addr):
        if not addr:
            return None
        text = self.ctx.read(addr, 128)
        return text.split(b"\0", 1)[0].decode("latin-1")

    def refresh(self):
        return self.raw("epoch", 8, struct.pack("<Q", 1))[0]


def collect(ctx, params):
    ctl = Ctl(ctx, params["mallctl"])
    stats = ctl.get("config.stats", "b")
    if not stats:
        # jemalloc built without --enable-stats: every stats.* name is ENOENT.
        return {"configStats": False, "errors": ctl.errors}
    ctl.refresh()
    ctx.step("jemalloc epoch refreshed")
    out = {"configStats": True}
    for name, kind in GLOBAL:
        out[name] = ctl.get(name, kind)
    arenas = []
    narenas = out["arenas.narenas"] or 0
    limit = params.get("arenaLimit", 256)
    for i in range(min(narenas, limit)):
        entry = {"index": i}
        for name, kind in PER_ARENA:
            entry[name] = ctl.get("stats.arenas.%d.%s" % (i, name), kind)
            if entry[name] is None:
                break
        if entry["nthreads"] is not None:
            arenas.append(entry)
        ctl.errors.pop("stats.arenas.%d.nthreads" % i, None)
    out["arenas"] = arenas
    SEEN["arenas"] = [a["index"] for a in arenas]
    out["arenasRead"] = min(narenas, limit)
    out["errors"] = ctl.errors
    ctx.step("jemalloc stats read (%d arenas)" % len(arenas))
    return out


def release(ctx, params):
    """arena.<all>.purge: every arena's dirty and muzzy pages back to the kernel (MADV_DONTNEED, or
    MADV_FREE for muzzy where jemalloc was built so). Thread caches are not flushed. The figures
    are read right before and after it (process-wide, and per arena collect() saw: jemalloc's own
    resident count is the only per-arena Rss there is), so the prediction is the one of the moment
    of the call."""
    ctl = Ctl(ctx, params["mallctl"])
    names = ("stats.allocated", "stats.active", "stats.resident", "stats.mapped",
             "stats.arenas.%d.pdirty" % ALL, "stats.arenas.%d.pmuzzy" % ALL)
    per = ("resident", "pdirty", "pmuzzy")

    def read():
        ctl.refresh()
        whole = {name: ctl.get(name, "z") for name in names}
        arenas = {str(i): {k: ctl.get("stats.arenas.%d.%s" % (i, k), "z") for k in per} for i in SEEN["arenas"]}
        return whole, arenas

    before, arenas_before = read()
    rc = ctl.raw("arena.%d.purge" % ALL, 0)[0]
    ctx.step("jemalloc arena.%d.purge returned %d" % (ALL, rc))
    after, arenas_after = read()
    return {"call": "mallctl(\"arena.%d.purge\")" % ALL, "returned": rc, "before": before, "after": after,
            "arenasBefore": arenas_before, "arenasAfter": arenas_after,
            "page": ctl.get("arenas.page", "z"), "errors": ctl.errors}
