/**
 * Whether files heapgap runs as code can be trusted as its own are: the bytecode gdb's Python loads
 * from dist/pycache (collect/safe-call/gdb-path.ts) and V8's code cache of the CLI
 * (cli/code-cache.ts). Either runs with heapgap's privileges, root's often.
 */
import { lstatSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const euid = () => process.geteuid?.() ?? 0;

/** dir and every directory above it: owned by root or by us, writable by no one else (sticky /tmp aside). */
export function ownedSafely(dir: string): boolean {
  const uid = euid();
  for (let d = dir; ; d = dirname(d)) {
    try {
      const st = statSync(d);
      const sticky = (st.mode & 0o1000) !== 0 && d !== dir;
      if (!st.isDirectory() || (st.uid !== 0 && st.uid !== uid) || ((st.mode & 0o022) !== 0 && !sticky)) return false;
    } catch {
      return false;
    }
    if (dirname(d) === d) return true;
  }
}

/** A regular file (not a link) owned by root or by us, that no one else can write. */
export function fileOwnedSafely(file: string): boolean {
  try {
    const st = lstatSync(file);
    return st.isFile() && (st.uid === 0 || st.uid === euid()) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
