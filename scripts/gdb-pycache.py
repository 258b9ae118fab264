# Run by scripts/pycache.mjs inside gdb (`gdb -nx --batch -x scripts/gdb-pycache.py`), never by heapgap
# at run time: compiles, with gdb's own Python, the bytecode of every Python file a heapgap session
# runs in gdb into dist/pycache/ (a pycache_prefix tree):
#   - gdb's own package (gdb.PYTHONDIR): Debian ships it without bytecode, so every gdb start
#     compiled its 25 files, about 15 ms of gdb's start;
#   - the standard-library modules gdb and heapgap's files import: under a pycache_prefix Python looks
#     for their bytecode there, not in their own __pycache__;
#   - heapgap's driver.py and each allocator's stop.py and modules.
# heapgap sets PYTHONPYCACHEPREFIX for gdb only when dist/pycache/stamp.json names the gdb it runs
# (src/collect/safe-call/gdb-path.ts). A stale file costs nothing but time: Python checks each one against its source's
# size and mtime and compiles the source when they differ.
import ast
import importlib
import json
import os
import py_compile
import sys

import gdb

if sys.version_info < (3, 8):
    # no pycache_prefix: py_compile would write next to the sources, into system directories
    print("heapgap-pycache: Python %s has no pycache_prefix; nothing built" % sys.version.split()[0])
    sys.exit(0)

OUT = os.environ["HEAPGAP_PYCACHE_OUT"]
ROOT = os.environ["HEAPGAP_PACKAGE_ROOT"]

ours = [os.path.join(d, n) for d, _, names in os.walk(os.path.join(ROOT, "src")) for n in names if n.endswith(".py")]

# the standard-library modules heapgap's files import, imported here so that they (and theirs) are
# in sys.modules below
wanted = set()
for path in ours:
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            wanted.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            wanted.add(node.module)
for name in sorted(wanted):
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - gdb's own module, or one this Python lacks: nothing to compile
        pass

sources = set(ours)
for mod in list(sys.modules.values()):
    f = getattr(mod, "__file__", None)
    if f and f.endswith(".py"):
        sources.add(f)
for d, _, names in os.walk(gdb.PYTHONDIR):
    sources.update(os.path.join(d, n) for n in names if n.endswith(".py"))

sys.pycache_prefix = OUT
done = 0
for src in sorted(sources):
    try:
        py_compile.compile(src, doraise=True)
        done += 1
    except (py_compile.PyCompileError, OSError) as e:
        print("heapgap-pycache: skipped %s: %s" % (src, e))

with open(os.path.join(OUT, "stamp.json"), "w") as f:
    json.dump({"cacheTag": sys.implementation.cache_tag, "python": sys.version.split()[0], "files": done}, f)
print("heapgap-pycache: %d files for %s" % (done, sys.implementation.cache_tag))
