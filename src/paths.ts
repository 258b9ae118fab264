/**
 * Files heapgap ships as source next to its code (gdb's driver, each allocator's stop.py, the demo
 * target's C source), found from the package root: the directory above this module that holds
 * heapgap's package.json. The same from src/ (tests), dist/ (tsc's output) and the bundled CLI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"heapgap"/.test(readFileSync(pkg, 'utf8'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`heapgap's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A path inside the package, e.g. packagePath('src', 'allocators', 'glibc', 'stop.py'). */
export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
