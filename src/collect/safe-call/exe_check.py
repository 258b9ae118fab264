# Whether gdb is given the target's executable, decided inside gdb as it starts (gdb-argv.ts), so
# that gdb's command line depends on the pid alone and gdb can be started before heapgap's node has
# even loaded (main.ts). gdb reads the executable with its symbols and call-frame information (the
# thread check unwinds through it); without --readnever it would also index the file's DWARF: seconds
# and gigabytes for a large debug build, some of it waited for inside the stop (and gdb 13 fails an
# assertion unwinding a file read with -readnever). An executable with DWARF of its own
# (.debug_info, or .zdebug_info compressed) is not given to gdb at all: its frames are then unnamed,
# as after a crash on it. Only the ELF and section headers are read. No gdb import at module level:
# tests run has_debug_info with any python3.
import struct


def has_debug_info(path):
    """True when the 64-bit little-endian ELF at path has a non-empty .debug_info/.zdebug_info;
    False for anything else, including a file that cannot be read (gdb could not read it either)."""
    try:
        with open(path, "rb") as f:
            h = f.read(64)
            if len(h) < 64 or h[:4] != b"\x7fELF" or h[4] != 2 or h[5] != 1:
                return False
            shoff = struct.unpack_from("<Q", h, 40)[0]
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", h, 58)
            if shoff == 0 or shentsize != 64 or shnum == 0 or shnum > 65000 or shstrndx >= shnum:
                return False
            f.seek(shoff)
            sh = f.read(shentsize * shnum)
            strs = b""
            if len(sh) >= (shstrndx + 1) * shentsize:
                off, size = struct.unpack_from("<QQ", sh, shstrndx * shentsize + 24)
                f.seek(off)
                strs = f.read(min(size, 1 << 20))
    except (OSError, ValueError, OverflowError):
        return False
    for o in range(0, len(sh) - 63, shentsize):
        at = struct.unpack_from("<I", sh, o)[0]
        end = strs.find(b"\0", at)
        name = strs[at:end if end >= 0 else len(strs)]
        if name in (b".debug_info", b".zdebug_info") and struct.unpack_from("<Q", sh, o + 32)[0] > 0:
            return True
    return False


def load_exe(pid, mark):
    """gdb's `file /proc/PID/exe`, unless the file carries DWARF. mark("exe-file") comes first: a gdb
    that crashes after it crashed on the executable, and heapgap runs it again without this step
    (gdb-argv.ts withExe). Not loaded, the driver gives gdb libc as its executable (driver.py
    heapgap_load), so that gdb does not read the target's own on attach either."""
    import gdb

    exe = "/proc/%d/exe" % pid
    if has_debug_info(exe):
        return
    mark("exe-file")
    gdb.execute("file %s" % exe, to_string=True)
