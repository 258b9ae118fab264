# Checks a glibc arena from outside before heapgap calls into it. Pure Python (no gdb): the caller
# supplies read(addr, n) -> bytes. It walks exactly the lists malloc_info and malloc_trim walk
# (fastbins, the unsorted, small and large bins, a thread arena's heap chain, the arena ring) with
# the checks glibc itself makes on them (alignment, chunk sizes, fd->bk == p and bk->fd == p,
# size vs. the next chunk's prev_size, the neighbours malloc_consolidate would unlink, top), and
# proves every list ends. A list that fails one of them would make malloc_info or malloc_trim abort
# (holding the arena lock) or loop forever (holding it too): then heapgap makes no call at all.
#
# Everything read is hostile: every walk is bounded by the arena's bytes / MINSIZE and by a shared
# step budget, memory is bounded (a capped page cache, a capped visited set), and no exception
# escapes: whatever the heap holds, the result is a list of problems.
import struct
import time
from collections import OrderedDict

MINSIZE = 32
ALIGN = 16
SIZE_BITS = 7
PREV_INUSE = 1
NBINS = 128
NFASTBINS = 10
VISITED_CAP = 1 << 16
MAX_PROBLEMS = 16
USER_TOP = 1 << 47  # x86-64 user addresses are below this

DOUBLE_FREE = "a double free (the chunk was freed twice) or a use-after-free write into it"
UAF = "a use-after-free write into this freed chunk"
OVERFLOW = "a heap buffer overflow from the chunk below (it overwrote this chunk's header) or a use-after-free write"


class Unreadable(Exception):
    pass


class OutOfSteps(Exception):
    pass


class Budget:
    """Steps shared by every list of every arena checked in one stop (one step = one chunk visited),
    and optionally a deadline (time.monotonic() value), looked at every 64 steps."""

    def __init__(self, steps, deadline=None):
        self.left, self.deadline, self.timed_out = steps, deadline, False

    def take(self):
        self.left -= 1
        if self.deadline is not None and self.left % 64 == 0 and time.monotonic() > self.deadline:
            self.timed_out = True
            return False
        return self.left >= 0


class Memory:
    """read() through a cache of blocks (list walks come back to the same pages; on a fragmented
    heap 4 KiB blocks cost the least CPU, measured against 16 and 64 KiB), falling back to single
    pages where a block runs off a mapping. At most max_bytes are kept (least recently used go)."""

    def __init__(self, read, block=4096, page=4096, max_bytes=32 << 20):
        self.read, self.block, self.page, self.max_bytes = read, block, page, max_bytes
        self.cache, self.held, self.reads = OrderedDict(), 0, 0

    def _get(self, key, base, n):
        got = self.cache.get(key)
        if got is not None:
            self.cache.move_to_end(key)
            return got
        self.reads += 1
        try:
            got = bytes(self.read(base, n))
        except Exception:  # noqa: BLE001 - whatever the reader raises, the span is unreadable
            got = b""
        got = got[:len(got) - len(got) % self.page]  # a short read ends where the mapping does
        while self.held + len(got) > self.max_bytes and self.cache:
            self.held -= len(self.cache.popitem(last=False)[1])
        self.cache[key] = got
        self.held += len(got)
        return got

    def _span(self, at):
        """(base, bytes) holding address `at`, or (None, None). A page inside a block that could not
        be read whole (it runs into an unmapped range) is read on its own, keyed apart (-base)."""
        base = at - at % self.block
        data = self._get(base, base, self.block)
        if at < base + len(data):
            return base, data
        base = at - at % self.page
        data = self._get(-base, base, self.page)
        return (base, data) if data else (None, None)

    def bytes(self, addr, n):
        if addr <= 0 or addr + n > USER_TOP:
            raise Unreadable(addr)
        base, data = self._span(addr)
        if base is None:
            raise Unreadable(addr)
        o = addr - base
        if o + n <= len(data):
            return data[o:o + n]
        out, at = [], addr
        while at < addr + n:
            base, data = self._span(at)
            if base is None:
                raise Unreadable(at)
            take = min(addr + n, base + len(data)) - at
            out.append(data[at - base:at - base + take])
            at += take
        return b"".join(out)

    def u64(self, addr):
        return struct.unpack("<Q", self.bytes(addr, 8))[0]

    def words(self, addr, n):
        return struct.unpack("<%dQ" % n, self.bytes(addr, 8 * n))


def merge(ranges):
    """Sorted [lo, hi) ranges with touching ones joined (a heap may span adjacent VMAs)."""
    out = []
    for lo, hi in sorted((lo, hi) for lo, hi in ranges if hi > lo):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def hx(v):
    return "0x%x" % v


def smallbin_index(size):
    return size >> 4


def largebin_index(size):
    for shift, limit, base in ((6, 48, 48), (9, 20, 91), (12, 10, 110), (15, 4, 119), (18, 2, 124)):
        if (size >> shift) <= limit:
            return base + (size >> shift)
    return 126


def bin_index(size):
    return smallbin_index(size) if size < 1024 else largebin_index(size)


def bin_name(i):
    return "unsorted" if i == 1 else ("smallbin[%d]" % i if i < 64 else "largebin[%d]" % i)


class Offsets:
    """malloc_state / heap_info offsets. `layout` as heapgap passes it: top, next, systemMem,
    heapMax, heapInfoSize, and safeLinking (glibc >= 2.32 masks fastbin links)."""

    def __init__(self, layout):
        self.top = layout["top"]
        self.fastbins = self.top - 8 * NFASTBINS
        self.bins = self.top + 16
        self.next = layout["next"]
        self.system_mem = layout["systemMem"]
        self.heap_max = layout["heapMax"]
        self.heap_info = layout["heapInfoSize"]
        self.safe_linking = layout.get("safeLinking", True)
        self.page = layout.get("pageSize", 4096)
        self.size = self.system_mem + 16  # through max_system_mem


class Problem(Exception):
    """One corruption; raised inside a walk to end it, collected by check_arena."""

    def __init__(self, where, what, cause, chunk=None, bin=None, **more):
        super().__init__(what)
        self.info = dict(list=where, bin=bin, chunk=None if chunk is None else hx(chunk), what=what, cause=cause, **more)


def problem_text(p, arena_index=None):
    """One line naming everything a user needs to find the bug."""
    where = "arena %s (%s)" % (arena_index if arena_index is not None else "?", p.get("arena", "?"))
    lst = p["list"] if p.get("bin") is None else ("%s[%d]" % (p["list"], p["bin"]) if p["list"] == "fastbin" else bin_name(p["bin"]))
    chunk = " chunk %s" % p["chunk"] if p.get("chunk") else ""
    return "%s %s%s: %s (likely cause: %s)" % (where, lst, chunk, p["what"], p["cause"])


class Arena:
    def __init__(self, mem, addr, off, bounds, budget, is_main):
        self.mem, self.addr, self.off, self.budget, self.is_main = mem, addr, off, budget, is_main
        self.bounds = merge(bounds)
        self.space = []  # [lo, hi) ranges where this arena's chunks may lie
        self.limit = None  # the longest list that fits in them
        self.problems = []
        self.out_of_steps = False
        self.trim_from = bin_index(off.page)  # malloc_trim walks bin 1 and these
        self.figures = {"fastChunks": 0, "fastBytes": 0, "binChunks": 0, "binBytes": 0, "heaps": []}

    def guard(self, fn, *args):
        """Runs one walk; its problem is kept and the other lists are still walked."""
        if self.out_of_steps or len(self.problems) >= MAX_PROBLEMS:
            return False
        try:
            fn(*args)
            return True
        except Problem as e:
            self.problems.append(dict(e.info, arena=hx(self.addr), corrupt=True))
        except OutOfSteps:
            self.out_of_steps = True
        except Exception as e:  # noqa: BLE001 - never raise, whatever the heap holds
            self.problems.append({"list": "arena", "bin": None, "chunk": None, "arena": hx(self.addr), "corrupt": True,
                                  "what": "the check failed on this arena's data: %s: %s" % (type(e).__name__, e), "cause": "corrupted allocator metadata"})
        return False

    # ---- bounds --------------------------------------------------------------------------

    def range_of(self, p, n=16):
        """The [lo, hi) of this arena's chunk space holding [p, p+n), or None."""
        for lo, hi in self.space:
            if lo <= p and p + n <= hi:
                return lo, hi
        return None

    def max_len(self):
        if self.limit is None:
            self.limit = max(1, sum(hi - lo for lo, hi in self.space) // MINSIZE)
        return self.limit

    def mapped(self, lo, hi):
        return not self.bounds or any(a <= lo and hi <= b for a, b in self.bounds)

    def heaps(self, top):
        """A thread arena's heaps, newest first, as malloc_info walks them (heap_for_ptr(top), prev...)."""
        off, hm = self.off, self.off.heap_max
        h, seen = top & ~(hm - 1), set()
        while h:
            if h in seen or len(seen) >= 1 << 16:
                raise Problem("heap", "heap chain is cyclic at heap_info %s" % hx(h), "a write over heap_info (heap buffer underflow)")
            seen.add(h)
            if h % hm:
                raise Problem("heap", "heap_info.prev %s is not %s-aligned" % (hx(h), hx(hm)), "a write over heap_info")
            try:
                ar, prev, size, mprot = self.mem.words(h, 4)
            except Unreadable:
                raise Problem("heap", "heap_info at %s is not readable" % hx(h), "a corrupted top pointer or heap chain")
            if ar != self.addr:
                raise Problem("heap", "heap_info at %s belongs to %s, not to this arena" % (hx(h), hx(ar)), "a corrupted top pointer or heap chain")
            if not (off.heap_info < size <= hm and size <= mprot <= hm) or not self.mapped(h, h + size):
                raise Problem("heap", "heap_info at %s has impossible size %s (mprotect_size %s)" % (hx(h), hx(size), hx(mprot)), "a write over heap_info")
            first = h + off.heap_info + (off.size if h == self.addr - off.heap_info else 0)
            self.space.append((first, h + size))
            self.figures["heaps"].append({"start": hx(h), "size": size, "mprotectSize": mprot})
            h = prev

    # ---- the walks -----------------------------------------------------------------------

    def step(self, where, i, count):
        if count > self.max_len():
            raise Problem(where, "the list is longer than this arena can hold (%d chunks) without ending" % self.max_len(), DOUBLE_FREE, bin=i)
        if not self.budget.take():
            raise OutOfSteps()

    def chunk(self, p, where, i, via, n=48, field="fd"):
        """Header words of chunk p, reached through `field` of chunk `via` (None: the bin's head
        in the arena). A bad link names the chunk that holds it: that is the one written to."""
        if p % ALIGN == 0 and self.range_of(p, n) is not None:
            try:
                return self.mem.words(p, n // 8)
            except Unreadable:
                pass
        holder = ("chunk %s's %s" % (hx(via), field)) if via else "the list head's %s (in the arena)" % field
        if p % ALIGN:
            why = "misaligned %s %s" % (field, hx(p)) if via else "%s %s is misaligned" % (holder, hx(p))
        elif self.range_of(p, n) is None:
            why = "%s %s points outside this arena's heaps" % (holder, hx(p))
        else:
            why = "%s %s points to unreadable memory" % (holder, hx(p))
        raise Problem(where, why, UAF if via else "a stray write into the arena (malloc_state)", chunk=via, bin=i, target=hx(p))

    def size_ok(self, p, size, where, i, via=None):
        rng = self.range_of(p)
        if size < MINSIZE or size % ALIGN or rng is None or p + size > rng[1]:
            raise Problem(where, "impossible chunk size %s (the chunk would end past its heap)" % hx(size)
                          if rng is not None and size >= MINSIZE and size % ALIGN == 0 else "impossible chunk size %s" % hx(size),
                          OVERFLOW, chunk=p, bin=i, **({"linkedFrom": hx(via)} if via else {}))

    def fastbins(self, state):
        for i in range(NFASTBINS):
            self.guard(self.fastbin, i, struct.unpack_from("<Q", state, self.off.fastbins + 8 * i)[0])

    def fastbin(self, i, p):
        reveal = self.off.safe_linking
        via, count, power, lam, tortoise = None, 0, 1, 0, None
        while p:
            count += 1
            self.step("fastbin", i, count)
            if p == tortoise:
                raise Problem("fastbin", "the list is cyclic: chunk %s is reached twice" % hx(p), DOUBLE_FREE, chunk=p, bin=i)
            prev_size, size, fd = self.chunk(p, "fastbin", i, via, 24)
            if (size & ~SIZE_BITS) >> 4 != i + 2:
                raise Problem("fastbin", "size %s does not belong in fastbin[%d] (chunks of %s)%s" % (hx(size & ~SIZE_BITS), i, hx((i + 2) * 16), " (reached from chunk %s)" % hx(via) if via else ""),
                              OVERFLOW, chunk=p, bin=i, **({"linkedFrom": hx(via)} if via else {}))
            self.size_ok(p, size & ~SIZE_BITS, "fastbin", i, via)
            self.consolidatable(p, prev_size, size, i)
            self.figures["fastChunks"] += 1
            self.figures["fastBytes"] += size & ~SIZE_BITS
            # Brent's cycle detection: O(1) memory, at most ~2x the list's length in steps
            lam += 1
            if lam == power:
                tortoise, power, lam = p, power * 2, 0
            via, p = p, ((p + 16) >> 12) ^ fd if reveal else fd

    def consolidatable(self, p, prev_size, size, i):
        """What malloc_consolidate (malloc_trim, large mallocs) does with fastbin chunk p: the
        chunk after it must be sane, and a free neighbour must be unlinkable."""
        nxt = p + (size & ~SIZE_BITS)
        if nxt != self.top:
            try:
                nsize = self.mem.u64(nxt + 8) & ~SIZE_BITS
                rng = self.range_of(nxt)
                if nsize < 16 or rng is None or nxt + nsize > rng[1]:
                    raise Unreadable(nxt)
                if not self.mem.u64(nxt + nsize + 8) & PREV_INUSE:
                    self.unlinkable(nxt, "fastbin", i, p)
            except Unreadable:
                raise Problem("fastbin", "the chunk after it (%s) has an impossible size" % hx(nxt), OVERFLOW, chunk=p, bin=i)
        if not size & PREV_INUSE:
            q = p - prev_size
            try:
                ok = prev_size >= MINSIZE and prev_size % ALIGN == 0 and self.range_of(q) is not None and self.mem.u64(q + 8) & ~SIZE_BITS == prev_size
            except Unreadable:
                ok = False
            if not ok:
                raise Problem("fastbin", "prev_size %s does not match the chunk below it" % hx(prev_size), OVERFLOW, chunk=p, bin=i)
            self.unlinkable(q, "fastbin", i, p)

    def unlinkable(self, q, where, i, via):
        """glibc's unlink_chunk checks on q (a free chunk some other chunk will merge with)."""
        try:
            _, size, fd, bk, fdn, bkn = self.mem.words(q, 6)
            size &= ~SIZE_BITS
            ok = size >= MINSIZE and self.range_of(q, size) is not None and self.mem.u64(q + size) == size
            ok = ok and fd % ALIGN == 0 and bk % ALIGN == 0 and self.mem.u64(fd + 24) == q and self.mem.u64(bk + 16) == q
            if ok and size >= 1024 and fdn:
                ok = self.mem.u64(fdn + 40) == q and self.mem.u64(bkn + 32) == q
        except Unreadable:
            ok = False
        if not ok:
            raise Problem(where, "free neighbour %s of chunk %s is not properly linked (glibc would abort merging them)" % (hx(q), hx(via)), UAF, chunk=q, bin=i, linkedFrom=hx(via))

    def bins(self, state):
        base = self.addr + self.off.bins - 16
        for i in range(1, NBINS):
            head = base + (i - 1) * 16
            fd, bk = struct.unpack_from("<QQ", state, self.off.bins + (i - 1) * 16)
            if fd == head and bk == head:
                continue
            where = "unsorted" if i == 1 else ("smallbin" if i < 64 else "largebin")
            self.guard(self.bin, i, head, fd, bk, where)

    def bin(self, i, head, fd, bk, where):
        if not fd or not bk:
            raise Problem(where, "the bin's head in the arena has a null link (fd %s, bk %s)" % (hx(fd), hx(bk)), "a stray write into the arena (malloc_state)", bin=i)
        try:
            self.walk_bin(i, head, fd, where)
        except Problem as e:
            raise self.blame(e, head)

    def walk_bin(self, i, head, first, where):
        prev, p, count, visited = head, first, 0, set()
        while p != head:
            count += 1
            self.step(where, i, count)
            _, raw, fd, bk, fdn, bkn = self.chunk(p, where, i, prev if prev != head else None)
            size = raw & ~SIZE_BITS
            if fd == p:
                raise Problem(where, "the list is cyclic: chunk %s's fd points to itself" % hx(p), DOUBLE_FREE, chunk=p, bin=i)
            if bk != prev:
                if p in visited:
                    raise Problem(where, "the list is cyclic: chunk %s is reached twice without returning to the bin head" % hx(p), DOUBLE_FREE, chunk=p, bin=i)
                raise Problem(where, "fd->bk != p: %s's fd is %s, whose bk is %s" % ("the bin head" if prev == head else "chunk " + hx(prev), hx(p), hx(bk)),
                              UAF, chunk=prev if prev != head else p, bin=i, pair=[hx(prev), hx(p)])
            if len(visited) < VISITED_CAP:
                visited.add(p)
            self.size_ok(p, size, where, i)
            if i == 1 and (size <= 16 or size > self.system_mem):
                raise Problem(where, "impossible chunk size %s (larger than the arena's %s bytes)" % (hx(size), self.system_mem), OVERFLOW, chunk=p, bin=i)
            if i > 1 and bin_index(size) != i:
                raise Problem(where, "size %s does not belong in %s" % (hx(size), bin_name(i)), OVERFLOW, chunk=p, bin=i)
            if i == 1 or i >= self.trim_from:
                # malloc_trim madvises these chunks' interiors: a wrong size that stays inside the
                # heap would drop live data. The next chunk's prev_size must agree (small bins need
                # no such read: each holds one exact size, checked above).
                try:
                    nxt_prev = self.mem.u64(p + size)
                except Unreadable:
                    raise Problem(where, "the chunk after it is unreadable (size %s)" % hx(size), OVERFLOW, chunk=p, bin=i)
                if nxt_prev != size:
                    raise Problem(where, "size %s does not match the next chunk's prev_size %s" % (hx(size), hx(nxt_prev)), OVERFLOW, chunk=p, bin=i)
            if i >= 64 and fdn:
                for link, field, name in ((fdn, 40, "fd_nextsize"), (bkn, 32, "bk_nextsize")):
                    try:
                        back = self.chunk(link, where, i, p)[field // 8]
                    except Problem:
                        back = None
                    if back != p:
                        raise Problem(where, "%s %s does not link back to it" % (name, hx(link)), UAF, chunk=p, bin=i)
            self.figures["binChunks"] += 1
            self.figures["binBytes"] += size
            prev, p = p, fd
        if p == head and self.mem.u64(head + 24) != prev:
            raise Problem(where, "the bin head's bk %s is not its last chunk %s" % (hx(self.mem.u64(head + 24)), hx(prev)), UAF, chunk=prev, bin=i)

    def blame(self, e, head):
        """A broken link is seen from both ends: walking bk from the head (as malloc_trim does) until
        it breaks names the same chunk when one field of one chunk was overwritten."""
        pair = e.info.pop("pair", None)
        if pair is None:
            return e
        q, count = head, 0
        try:
            r = self.mem.u64(head + 24)
            while r != head and count < self.max_len() and self.budget.take():
                count += 1
                if r % ALIGN or self.range_of(r, 32) is None:
                    break
                back_fd, back_bk = self.mem.words(r + 16, 2)
                if back_fd != q:
                    break
                q, r = r, back_bk
            else:
                return e
        except Unreadable:
            pass
        # The fd walk broke on the link prev -> p; the bk walk on q <- r.
        prev, p = int(pair[0], 16), int(pair[1], 16)
        if q == prev or r == prev:
            e.info.update(chunk=hx(prev), what=e.info["what"] + "; the walk from the other end breaks at the same chunk: its fd was overwritten")
        elif q == p or r == p:
            e.info.update(chunk=hx(p), what=e.info["what"] + "; the walk from the other end breaks at the same chunk: its bk was overwritten")
        return e

    def check_top(self, state):
        top = struct.unpack_from("<Q", state, self.off.top)[0]
        self.top = top
        initial = self.addr + self.off.bins - 16
        if top == initial and self.is_main:
            return  # before the first sbrk
        try:
            if top % ALIGN or self.range_of(top, 16) is None:
                raise Unreadable(top)
            size = self.mem.u64(top + 8)
        except Unreadable:
            raise Problem("top", "the top pointer %s is not inside this arena's heaps" % hx(top), "a stray write into the arena (malloc_state)")
        rng = self.range_of(top)
        end = top + (size & ~SIZE_BITS)
        self.figures["top"] = hx(top)
        self.figures["topBytes"] = size & ~SIZE_BITS
        bad = (size & ~SIZE_BITS) < MINSIZE or end > rng[1] or end % self.off.page or not size & PREV_INUSE or (size & ~SIZE_BITS) > self.system_mem
        if not self.is_main and end != rng[1]:
            bad = True
        if bad:
            raise Problem("top", "impossible top chunk size %s (top %s, its heap ends at %s)" % (hx(size), hx(top), hx(rng[1])),
                          "a heap buffer overflow past the last allocated chunk (into top)", chunk=top)


def check_arena(read, arena_addr, layout, bounds, is_main=False, budget=None, figures=None):
    """Problems found in one arena (a list of dicts, empty when healthy). `bounds`: [lo, hi) ranges
    the arena's chunks may occupy (main arena: its brk heap and any mmapped segments) or, for a
    thread arena, the mapped read-write ranges its heaps must lie in ([] = not checked). Never
    raises; a walk cut short by `budget` adds a problem with list "budget" and corrupt False."""
    mem = read if isinstance(read, Memory) else Memory(read)
    budget = budget or Budget(1 << 62)
    try:
        off = Offsets(layout)
        a = Arena(mem, arena_addr, off, bounds, budget, is_main)
    except Exception as e:  # noqa: BLE001 - a bad layout is a problem like any other
        return [{"list": "arena", "bin": None, "chunk": None, "what": "cannot check: %s" % e, "cause": "heapgap", "arena": hx(arena_addr), "corrupt": False}]
    try:
        state = mem.bytes(arena_addr, off.size)
    except Unreadable:
        return [{"list": "arena", "bin": None, "chunk": None, "arena": hx(arena_addr), "corrupt": True,
                 "what": "the arena's malloc_state is not readable", "cause": "a corrupted arena ring"}]
    a.system_mem, max_system = struct.unpack_from("<QQ", state, off.system_mem)
    a.top = 0
    if is_main:
        a.space = list(a.bounds)
    if is_main or a.guard(a.heaps, struct.unpack_from("<Q", state, off.top)[0]):
        a.guard(a.check_top, state)
        a.fastbins(state)
        a.bins(state)
    if a.out_of_steps:
        a.problems.append({"list": "budget", "bin": None, "chunk": None, "arena": hx(arena_addr), "corrupt": False,
                           "what": "the check's step budget ran out before every list was walked", "cause": "a very large number of free chunks"})
    if figures is not None:
        figures.update(a.figures, systemMem=a.system_mem, maxSystemMem=max_system, pageReads=mem.reads)
    return a.problems


def check_ring(read, main_arena, layout, max_arenas=1 << 16):
    """The arena ring from main_arena through `next` back to it, as malloc_info and malloc_trim go
    round it: (arena addresses in ring order, problems). Every thread arena must sit right after
    the heap_info of a HEAP_MAX-aligned heap that points back to it."""
    mem = read if isinstance(read, Memory) else Memory(read)
    try:
        off = Offsets(layout)
        ring, seen, a = [main_arena], {main_arena}, main_arena
        while True:
            n = mem.u64(a + off.next)
            if n == main_arena:
                return ring, []
            base = n - off.heap_info
            if n % ALIGN or base % off.heap_max or base <= 0 or mem.u64(base) != n:
                return ring, [{"list": "ring", "bin": None, "chunk": None, "arena": hx(a), "corrupt": True,
                               "what": "the arena ring's next pointer %s is not an arena" % hx(n), "cause": "a stray write into the arena (malloc_state)"}]
            if n in seen or len(ring) >= max_arenas:
                return ring, [{"list": "ring", "bin": None, "chunk": None, "arena": hx(a), "corrupt": True,
                               "what": "the arena ring does not return to main_arena (%s reached twice)" % hx(n), "cause": "a stray write into the arena (malloc_state)"}]
            seen.add(n)
            ring.append(n)
            a = n
    except Unreadable as e:
        return [main_arena], [{"list": "ring", "bin": None, "chunk": None, "arena": hx(main_arena), "corrupt": True,
                               "what": "the arena ring leads to unreadable memory at %s" % hx(e.args[0]), "cause": "a stray write into the arena (malloc_state)"}]
    except Exception as e:  # noqa: BLE001
        return [main_arena], [{"list": "ring", "bin": None, "chunk": None, "arena": hx(main_arena), "corrupt": True,
                               "what": "the ring check failed: %s" % e, "cause": "corrupted allocator metadata"}]


def find_main_arena(read, lo, hi, layout):
    """main_arena is not exported: in libc's writable data it is the malloc_state whose `next`
    points to itself (one arena) or to a thread arena that points back into the ring, with most
    bins empty (pointing to themselves) or pointing into memory. None when not found."""
    mem = read if isinstance(read, Memory) else Memory(read)
    try:
        off = Offsets(layout)
        data = mem.bytes(lo, hi - lo)
    except Exception:  # noqa: BLE001
        return None
    best, score = None, -1
    for o in range(0, len(data) - off.size + 1, 8):
        m = lo + o
        nxt = struct.unpack_from("<Q", data, o + off.next)[0]
        if nxt != m and (nxt % ALIGN or (nxt - off.heap_info) % off.heap_max):
            continue
        empty = sum(1 for i in range(1, NBINS) if struct.unpack_from("<Q", data, o + off.bins + (i - 1) * 16)[0] == m + off.bins - 16 + (i - 1) * 16)
        if empty > score and (empty >= 8 or nxt != m):
            try:
                if nxt != m and mem.u64(nxt - off.heap_info) != nxt:
                    continue
            except Unreadable:
                continue
            best, score = m, empty
    return best
