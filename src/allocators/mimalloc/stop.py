# mimalloc, in the stop: its C API called by the absolute addresses heapgap resolved from
# libmimalloc's dynsym, out-params in heapgap's scratch mapping.
# - mi_process_info: committed (current and peak) exactly, from mimalloc's process-wide OS counters.
# - mi_stats_print_out(fputs, FILE*) into a memfd: every counter mimalloc keeps, printed rounded to
#   a tenth of a unit. fputs(const char*, FILE*) has the shape of mi_output_fun(const char*, void*).
# - the library's writable segment, read right after mi_process_info, to find the process-wide stats
#   block by the committed figures just returned: where that match is unique and self-consistent,
#   reserved (and the rest) are exact (see parse-stats-block in TS).
# Release builds keep only the OS-level counters (reserved, committed, reset); the rest print 0.
# None of these calls takes a lock that another thread could be holding.
import struct

INFO = "int(*)(void*, void*, void*, void*, void*, void*, void*, void*)"
PRINT = "int(*)(void*, void*)"
COLLECT = "int(*)(unsigned char)"
VERSION = "int(*)(void)"
IN_HEAP = "unsigned char(*)(void*)"  # bool mi_is_in_heap_region(const void*): safe for any address
OPTION = "long(*)(int)"              # long mi_option_get(mi_option_t)
FIELDS = ["elapsedMs", "userMs", "systemMs", "currentRss", "peakRss", "currentCommit", "peakCommit", "pageFaults"]



# One scratch mapping per session: collect() makes it, release() reuses it, so nothing is mapped
# (and made resident) between the smaps_rollup reads around the release call.
BUFFERS = {}


def buffer(ctx, nbytes):
    if id(ctx) not in BUFFERS:
        BUFFERS[id(ctx)] = ctx.scratch(nbytes)
    return BUFFERS[id(ctx)]

def process_info(ctx, params, base):
    ctx.write(base, b"\0" * 64)
    args = ", ".join("(void*)%d" % (base + 8 * i) for i in range(8))
    ctx.call("%s(%s)" % (ctx.fn(params["processInfo"], INFO), args))
    return dict(zip(FIELDS, struct.unpack("<8Q", ctx.read(base, 64))))


def collect(ctx, params):
    base = buffer(ctx, 4096)
    out = {}
    if params["addr"].get(params.get("version", "")):
        out["version"] = ctx.call("%s()" % ctx.fn(params["version"], VERSION))
    printable = params["addr"].get("fputs") and params["addr"].get(params.get("statsPrint", ""))

    def measure(fp):
        # The stats block is matched right after mi_process_info, before other threads move it.
        out["processInfo"] = process_info(ctx, params, base)
        rw = params.get("dataSegment")
        out["statsBlocks"] = stats_blocks(ctx, int(rw[0], 16), rw[1], out["processInfo"]) if rw else []
        ctx.step("mimalloc process info read")
        if fp is not None:
            fputs = ctx.fn("fputs", "int(*)(void*, void*)")
            ctx.call("%s((void*)%s, (void*)%s)" % (ctx.fn(params["statsPrint"], PRINT), fputs, fp))

    measure(None)
    # Printing needs a FILE, and fdopen takes it from malloc: mimalloc, which in a thread that never
    # allocated makes a heap and a segment (seen: 32 MiB reserved, 1 MiB committed). So the text,
    # rounded anyway, is asked for only when the exact block was not found; the figures are then
    # all taken again inside the FILE's lifetime, to agree with each other.
    if printable and sum(1 for b in out["statsBlocks"] if plausible(b)) != 1:
        out["statsText"] = ctx.memfd_text(measure)
        ctx.step("mimalloc stats printed")
    out["options"] = options(ctx, params, out.get("version"))
    out["segments"] = segments(ctx, params)
    return out


def options(ctx, params, version):
    """mi_option_get for the options whose numbers heapgap knows for this version (the enum moved
    between releases: 2.0 and 2.1 differ)."""
    table = next((t["options"] for t in params.get("optionTables", [])
                  if version is not None and t["from"] <= version < t["to"]), None)
    if not table or not params["addr"].get(params.get("optionGet", "")):
        return None
    fn = ctx.fn(params["optionGet"], OPTION)
    return {name: ctx.call("%s(%d)" % (fn, number)) for name, number in table.items()}


def segments(ctx, params):
    """Which candidate addresses (32 MiB-aligned, inside anonymous mappings) lie in a live segment,
    asked of mimalloc's own segment map."""
    name = params.get("inHeapRegion")
    if not name or not params["addr"].get(name):
        return None
    fn = ctx.fn(name, IN_HEAP)
    return [c for c in params.get("segmentCandidates", []) if ctx.call("%s((void*)%s)" % (fn, c)) & 0xff]


def plausible(block):
    """The first checks heapgap makes of a candidate (stats-block.ts has all of them): segments,
    reserved and committed each with allocated - freed == current > 0."""
    data, at = bytes.fromhex(block["bytes"]), block["match"] - 16
    for off in (at - 96, at - 32, at):
        if off < 0:
            return False
        allocated, freed, _peak, current = struct.unpack("<4q", data[off:off + 32])
        if allocated - freed != current or current <= 0:
            return False
    return True


def stats_blocks(ctx, start, length, info):
    """Places in the library's .data/.bss where two adjacent int64 equal the committed peak and
    current mi_process_info just returned (mi_stat_count_t ends {peak, current}), with the bytes
    around them (hex) for heapgap to check and decode after detach. The segment is read once."""
    if info["currentCommit"] == 0:
        return []
    data = ctx.read(start, length)
    want = struct.pack("<qq", info["peakCommit"], info["currentCommit"])
    found, at = [], data.find(want)
    while at >= 0 and len(found) < 8:
        if at % 8 == 0 and at >= 256:
            lo = at - 256
            found.append({"address": hex(start + lo), "match": 256, "bytes": data[lo:lo + 1024].hex()})
        at = data.find(want, at + 8)
    return found


def release(ctx, params):
    """mi_collect(true) in the calling thread: that thread's heap (its free pages, its segment
    cache), abandoned segments, and, from the main thread, reclaims what exited threads left.
    Heaps owned by other threads are not collected: mimalloc has no call that reaches them, and
    calling into another thread's heap from this one would race with that thread."""
    import gdb  # which thread the protocol chose: the one whose heap is collected
    base = buffer(ctx, 4096)
    before = process_info(ctx, params, base)
    ctx.call("%s(1)" % ctx.fn(params["collect"], COLLECT))
    ctx.step("mimalloc mi_collect(true) returned")
    return {"call": "mi_collect(true)", "returned": None, "before": before, "after": process_info(ctx, params, base),
            "thread": gdb.selected_thread().ptid[1]}

