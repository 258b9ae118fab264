/**
 * Which gdb heapgap runs, and whether the bytecode in dist/pycache was built for it. Debian ships
 * gdb's Python package without bytecode, so every gdb start compiled it again, and heapgap's driver
 * and stop.py files with it: about 40 ms of gdb's CPU before each attach. `npm run build` runs
 * scripts/pycache.mjs, which has the gdb it finds compile them all into dist/pycache
 * (scripts/gdb-pycache.py) and records which gdb that was. gdb then gets PYTHONPYCACHEPREFIX only
 * when the gdb on PATH is that one: under a prefix Python looks for all bytecode there, the standard
 * library's too, so a cache for another gdb's Python would make its start slower, never wrong
 * (Python checks every file against its source and compiles the source when they differ).
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ownedSafely } from '../../owned.js';
import { packagePath } from '../../paths.js';

export const PYCACHE_DIR = packagePath('dist', 'pycache');

export interface GdbIdentity {
  path: string;
  size: number;
  mtimeMs: number;
}

/** The gdb a shell would run: the first executable `gdb` in PATH's absolute directories, or null. */
export function gdbOnPath(pathVar = process.env.PATH ?? ''): GdbIdentity | null {
  for (const dir of pathVar.split(delimiter)) {
    // a relative entry would name another file once gdb runs in its session directory
    if (!isAbsolute(dir)) continue;
    const path = join(dir, 'gdb');
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      accessSync(path, constants.X_OK);
      return { path, size: st.size, mtimeMs: st.mtimeMs };
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * { PYTHONPYCACHEPREFIX } when dist/pycache was built for this gdb and only its owner (or root) can
 * write to it or to any directory above it, else nothing. gdb runs that bytecode with heapgap's
 * privileges, root's often: it is trusted as heapgap's own files are, and no further. Nothing is
 * written there at run time (PYTHONDONTWRITEBYTECODE): a module the build did not compile is compiled
 * in memory, as without the cache.
 */
export function pycacheEnv(gdb: GdbIdentity | null, dir = PYCACHE_DIR): Record<string, string> {
  if (!gdb || !ownedSafely(dir)) return {};
  try {
    const stamp = JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8')) as { gdb?: Partial<GdbIdentity> };
    const built = stamp.gdb;
    if (built && built.path === gdb.path && built.size === gdb.size && built.mtimeMs === gdb.mtimeMs) return { PYTHONPYCACHEPREFIX: dir, PYTHONDONTWRITEBYTECODE: '1' };
  } catch {
    // no cache (gdb missing at build time, or not built yet)
  }
  return {};
}
