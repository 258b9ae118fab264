#!/usr/bin/env node
// pycache.mjs — part of `npm run build`: the bytecode of every Python file a heapgap session runs in
// gdb, compiled by that gdb's own Python into dist/pycache (scripts/gdb-pycache.py says what and
// why; src/collect/safe-call/gdb-path.ts when it is used). Without gdb on PATH there is nothing to
// build for, and nothing is built: heapgap then runs as it would without the cache.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYCACHE_DIR, gdbOnPath } from '../dist/collect/safe-call/gdb-path.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(PYCACHE_DIR, { recursive: true, force: true });
const gdb = gdbOnPath();
if (!gdb) process.exit(0);
mkdirSync(PYCACHE_DIR, { recursive: true });
const r = spawnSync(gdb.path, ['-nx', '--batch', '-iex', 'set auto-load off', '-x', join(ROOT, 'scripts', 'gdb-pycache.py')], {
  encoding: 'utf8',
  env: { ...process.env, HEAPGAP_PYCACHE_OUT: PYCACHE_DIR, HEAPGAP_PACKAGE_ROOT: ROOT },
  timeout: 120_000,
});
const stampFile = join(PYCACHE_DIR, 'stamp.json');
let stamp;
try {
  stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
} catch {
  // gdb without Python, or it failed: no cache, and heapgap runs without one
  rmSync(PYCACHE_DIR, { recursive: true, force: true });
  process.stderr.write(`pycache: gdb's Python bytecode was not built (${(r.stderr || r.stdout || String(r.error ?? r.status)).trim().split('\n').pop()}); heapgap works without it, only starts slower\n`);
  process.exit(0);
}
// written by this user for this user: gdb trusts it only when no one else can write to it (gdb-path.ts)
chmodTree(PYCACHE_DIR);
writeFileSync(stampFile, JSON.stringify({ ...stamp, gdb }, null, 2), { mode: 0o644 });
// the same gdb for dist/cli/gdb-early.sh, which has no JSON parser: its path only
writeFileSync(join(PYCACHE_DIR, 'gdb.path'), `${gdb.path}\n`, { mode: 0o644 });

function chmodTree(dir) {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) chmodTree(join(dir, e.name));
    else chmodSync(join(dir, e.name), 0o644);
  }
}
