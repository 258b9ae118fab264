# tcmalloc (gperftools), in the stop: its C API called by the absolute addresses heapgap resolved
# from libtcmalloc's dynsym, property names and out-params in heapgap's scratch mapping.
# MallocExtension_GetStats fills a bounded buffer with figures taken under one ExtractStats (one
# consistent picture); the numeric properties are read too, under the names the contract uses.
# Nothing here is interruptible: the calls hold pageheap_lock while they take the central caches'.
import struct

GET = "unsigned char(*)(void*, void*)"  # bool MallocExtension_GetNumericProperty(const char*, size_t*)
STATS = "int(*)(void*, int)"            # void MallocExtension_GetStats(char*, int): return ignored
RELEASE = "int(*)(void)"                # void MallocExtension_ReleaseFreeMemory(void): return ignored
OWNERSHIP = "int(*)(void*)"             # MallocExtension_GetOwnership: 1 = kOwned (safe for any address)
PROPERTIES = [
    "generic.current_allocated_bytes", "generic.heap_size", "generic.total_physical_bytes",
    "tcmalloc.pageheap_free_bytes", "tcmalloc.pageheap_unmapped_bytes",
    "tcmalloc.central_cache_free_bytes", "tcmalloc.transfer_cache_free_bytes",
    "tcmalloc.thread_cache_free_bytes", "tcmalloc.max_total_thread_cache_bytes",
    "tcmalloc.aggressive_memory_decommit", "tcmalloc.heap_limit_mb",
]
VALUE, NAME, TEXT = 0, 64, 4096
TEXT_BYTES = 1 << 17



# One scratch mapping per session: collect() makes it, release() reuses it, so nothing is mapped
# (and made resident) between the smaps_rollup reads around the release call.
BUFFERS = {}


def buffer(ctx, nbytes):
    if id(ctx) not in BUFFERS:
        BUFFERS[id(ctx)] = ctx.scratch(nbytes)
    return BUFFERS[id(ctx)]

def properties(ctx, params, base, names):
    out = {}
    get = ctx.fn(params["getProperty"], GET)
    for name in names:
        ctx.write(base + NAME, name.encode() + b"\0")
        ctx.write(base + VALUE, b"\0" * 8)
        ok = ctx.call("%s((void*)%d, (void*)%d)" % (get, base + NAME, base + VALUE)) & 0xff
        out[name] = struct.unpack("<Q", ctx.read(base + VALUE, 8))[0] if ok else None
    return out


def collect(ctx, params):
    base = buffer(ctx, TEXT + TEXT_BYTES)
    out = {"properties": properties(ctx, params, base, PROPERTIES)}
    ctx.step("tcmalloc properties read")
    text = None
    if params["addr"].get(params.get("getStats", "")):
        ctx.write(base + TEXT, b"\0")
        ctx.call("%s((void*)%d, %d)" % (ctx.fn(params["getStats"], STATS), base + TEXT, TEXT_BYTES))
        raw = ctx.read(base + TEXT, TEXT_BYTES)
        text = raw.split(b"\0", 1)[0].decode("latin-1")
        ctx.step("tcmalloc GetStats read (%d bytes)" % len(text))
    out["stats"] = text
    out["owned"] = owned(ctx, params)
    return out


def owned(ctx, params):
    """Which candidate mappings ([heap], large anonymous ones) tcmalloc's page map knows: a mapping
    is its page heap's when one of its probe pages belongs to a span. Probes spread over the
    mapping: tcmalloc registers every page of small-object spans but only the ends of large and
    free spans, and its metadata (also from sbrk) is no span. None when the function is missing."""
    name = params.get("getOwnership")
    if not name or not params["addr"].get(name):
        return None
    fn = ctx.fn(name, OWNERSHIP)
    found = []
    for cand in params.get("ownershipCandidates", []):
        for probe in cand["probes"]:
            if ctx.call("%s((void*)%s)" % (fn, probe)) == 1:
                found.append(cand["start"])
                break
    ctx.step("tcmalloc ownership of %d mappings checked" % len(params.get("ownershipCandidates", [])))
    return found


def release(ctx, params):
    """ReleaseFreeMemory: the page heap's free spans back to the kernel (madvise). Objects free in
    the central, transfer and thread caches stay where they are. The page heap's free and unmapped
    bytes are read right before and after it."""
    base = buffer(ctx, TEXT + TEXT_BYTES)
    names = ["tcmalloc.pageheap_free_bytes", "tcmalloc.pageheap_unmapped_bytes", "generic.current_allocated_bytes"]
    before = properties(ctx, params, base, names)
    ctx.call("%s()" % ctx.fn(params["releaseFreeMemory"], RELEASE))
    ctx.step("tcmalloc ReleaseFreeMemory returned")
    after = properties(ctx, params, base, names)
    return {"call": "MallocExtension_ReleaseFreeMemory()", "returned": None, "before": before, "after": after}
