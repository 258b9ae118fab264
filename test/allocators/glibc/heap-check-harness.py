# Drives src/allocators/glibc/heap_check.py for the tests, with no gdb: a live process is read
# through /proc/PID/mem, and heap images taken from one are mutated and checked again and again.
#   live PID [stop]          check every arena (SIGSTOP around the reads with "stop"); JSON on stdout
#   image PID FILE           save the arenas' memory (libc's data, every heap) to FILE
#   fuzz FILE N SEED         N mutated copies of the image, each checked; JSON summary on stdout
import json
import os
import random
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "src", "allocators", "glibc"))
import heap_check as hc  # noqa: E402

LAYOUT = {"top": 96, "next": 2160, "systemMem": 2184, "heapMax": 64 << 20, "heapInfoSize": 48, "safeLinking": True}


def maps(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi, parts[1], parts[5].strip() if len(parts) > 5 else ""))
    return out


def where(pid):
    """libc's writable data, the brk heap, and the read-write anonymous ranges."""
    m = maps(pid)
    rw = [(lo, hi) for lo, hi, perm, path in m if path.endswith("/libc.so.6") and perm.startswith("rw")]
    after = [(lo, hi) for lo, hi, perm, path in m if rw and lo == rw[-1][1] and path == "" and perm.startswith("rw")]
    data = (rw[0][0], (after or rw)[-1][1])
    heap = [(lo, hi) for lo, hi, perm, path in m if path == "[heap]"]
    anon = [(lo, hi) for lo, hi, perm, path in m if path == "" and perm.startswith("rw")]
    return data, heap, anon


def check_all(read, data, heap, anon, budget=None):
    mem = hc.Memory(read)
    main = hc.find_main_arena(mem, data[0], data[1], LAYOUT)
    if main is None:
        return {"main": None, "arenas": [], "ring": [{"what": "main_arena not found"}]}
    ring, ring_problems = hc.check_ring(mem, main, LAYOUT)
    arenas = []
    for i, a in enumerate(ring):
        figures = {}
        problems = hc.check_arena(mem, a, LAYOUT, heap if a == main else anon, is_main=a == main, budget=budget, figures=figures)
        try:
            mutex = struct.unpack("<i", mem.bytes(a, 4))[0]
        except hc.Unreadable:
            mutex = None
        arenas.append({"index": i, "address": hc.hx(a), "mutex": mutex, "problems": problems, "figures": figures,
                       "text": [hc.problem_text(p, i) for p in problems]})
    return {"main": hc.hx(main), "arenas": arenas, "ring": ring_problems}


def live(pid, stop):
    data, heap, anon = where(pid)
    fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    if stop:
        os.kill(pid, signal.SIGSTOP)
        wait_stopped(pid)
    try:
        t0 = time.monotonic()
        result = check_all(lambda a, n: os.pread(fd, n, a), data, heap, anon)
        result["ms"] = (time.monotonic() - t0) * 1000
    finally:
        if stop:
            os.kill(pid, signal.SIGCONT)
        os.close(fd)
    print(json.dumps(result))


def wait_stopped(pid):
    """SIGSTOP is delivered when each thread next runs: read only once every thread is stopped,
    as gdb has them in the stop."""
    for _ in range(2000):
        states = []
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    stat = f.read()
                states.append(stat[stat.rindex(")") + 2])
            except OSError:
                pass
        if all(s in "tT" for s in states):
            return
        time.sleep(0.005)
    raise SystemExit("process %d did not stop" % pid)


def image(pid, path):
    data, heap, anon = where(pid)
    fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    os.kill(pid, signal.SIGSTOP)
    wait_stopped(pid)
    regions = []
    for lo, hi in [data] + heap + anon:
        if hi - lo > 256 << 20:
            continue
        # a thread heap's reserved tail is PROT_NONE (another VMA): only readable ranges are saved
        try:
            regions.append((lo, os.pread(fd, hi - lo, lo)))
        except OSError:
            pass
    os.kill(pid, signal.SIGCONT)
    os.close(fd)
    with open(path, "wb") as f:
        meta = json.dumps({"data": data, "heap": heap, "anon": anon, "regions": [(lo, len(b)) for lo, b in regions]}).encode()
        f.write(struct.pack("<Q", len(meta)) + meta)
        for _, b in regions:
            f.write(b)


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))
        regions = [(lo, bytearray(f.read(size))) for lo, size in meta["regions"]]
    return meta, regions


def reader(regions):
    def read(addr, n):
        for lo, b in regions:
            if lo <= addr and addr + n <= lo + len(b):
                return bytes(b[addr - lo:addr - lo + n])
        raise OSError("unmapped %x" % addr)
    return read


def fuzz(path, n, seed):
    meta, pristine = load(path)
    pristine = [(lo, bytes(b)) for lo, b in pristine]
    rnd = random.Random(seed)
    data, heap, anon = tuple(meta["data"]), [tuple(r) for r in meta["heap"]], [tuple(r) for r in meta["anon"]]
    base = check_all(reader(pristine), data, heap, anon)
    arenas = [int(a["address"], 16) for a in base["arenas"]]
    # Pointer-sized values worth planting: arena addresses, bin heads, chunks, and near misses.
    pool = arenas + [a + 96 + 16 * k for a in arenas for k in range(0, 128, 7)]
    hot = []  # (region index, offset): the arenas' malloc_state and the first free chunks' headers
    for ri, (lo, b) in enumerate(pristine):
        for a in arenas:
            if lo <= a < lo + len(b):
                hot += [(ri, a - lo + o) for o in range(0, 2200, 8)]
        for o in range(0, min(len(b), 1 << 16), 16):
            word = struct.unpack_from("<Q", b, o)[0]
            if any(x <= word < x + 0x20000 for x, _ in pristine):
                hot.append((ri, o))
                pool.append(word)
    summary = {"iterations": n, "raised": [], "maxMs": 0.0, "withProblems": 0, "baseline": sum(len(a["problems"]) for a in base["arenas"])}
    regions = [(lo, bytearray(b)) for lo, b in pristine]
    read = reader(regions)
    for it in range(n):
        undo = []
        for _ in range(rnd.choice((1, 1, 2, 4, 8))):
            ri, off = rnd.choice(hot) if rnd.random() < 0.8 else (rnd.randrange(len(regions)), None)
            lo, b = regions[ri]
            off = (off if off is not None else rnd.randrange(max(1, len(b) - 8))) & ~7
            if off + 8 > len(b):
                continue
            undo.append((b, off, bytes(b[off:off + 8])))
            kind = rnd.random()
            if kind < 0.4:
                b[off + rnd.randrange(8)] ^= 1 << rnd.randrange(8)
            elif kind < 0.8:
                struct.pack_into("<Q", b, off, (rnd.choice(pool) + rnd.choice((0, 0, 0, 8, 16, -16, 1))) & (2 ** 64 - 1))
            else:
                struct.pack_into("<Q", b, off, rnd.getrandbits(64))
        t0 = time.monotonic()
        try:
            out = check_all(read, data, heap, anon, budget=hc.Budget(1 << 20))
            if any(a["problems"] for a in out["arenas"]) or out["ring"]:
                summary["withProblems"] += 1
            json.dumps(out)
        except Exception as e:  # noqa: BLE001 - exactly what the test looks for
            summary["raised"].append("iteration %d: %s: %s" % (it, type(e).__name__, e))
        summary["maxMs"] = max(summary["maxMs"], (time.monotonic() - t0) * 1000)
        for b, off, old in reversed(undo):
            b[off:off + 8] = old
    print(json.dumps(summary))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "live":
        live(int(sys.argv[2]), len(sys.argv) > 3 and sys.argv[3] == "stop")
    elif cmd == "image":
        image(int(sys.argv[2]), sys.argv[3])
    elif cmd == "fuzz":
        fuzz(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
