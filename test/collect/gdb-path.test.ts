// The gdb heapgap runs and the bytecode `npm run build` compiled for it (gdb-path.ts,
// scripts/pycache.mjs): used only for the gdb it was built for, and then nothing heapgap runs in gdb,
// nor gdb's own Python package, is compiled from source at start.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PYCACHE_DIR, gdbOnPath, pycacheEnv } from '../../src/collect/safe-call/gdb-path.js';
import { ownedSafely } from '../../src/owned.js';
import { packagePath } from '../../src/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'heapgap-gdb-path-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gdbOnPath and pycacheEnv', () => {
  it('finds the first executable gdb on PATH, and a cache only for that very file', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'gdb'), 'not executable');
    writeFileSync(join(b, 'gdb'), '#!/bin/sh\n');
    chmodSync(join(b, 'gdb'), 0o755);
    const found = gdbOnPath(`/nonexistent:${a}:${b}`);
    expect(found).toMatchObject({ path: join(b, 'gdb'), size: 10 });
    expect(gdbOnPath('/nonexistent')).toBeNull();
    // a relative entry names another file once gdb runs in its session directory: skipped
    expect(gdbOnPath(`.:bin:${b}`)).toMatchObject({ path: join(b, 'gdb') });

    const cache = join(dir, 'cache');
    mkdirSync(cache);
    expect(pycacheEnv(found, cache)).toEqual({}); // no stamp
    writeFileSync(join(cache, 'stamp.json'), JSON.stringify({ cacheTag: 'cpython-311', gdb: found }));
    expect(pycacheEnv(found, cache)).toEqual({ PYTHONPYCACHEPREFIX: cache, PYTHONDONTWRITEBYTECODE: '1' });
    // writable by others (here or above): not trusted, whatever its stamp says
    chmodSync(cache, 0o777);
    expect(pycacheEnv(found, cache)).toEqual({});
    chmodSync(cache, 0o755);
    chmodSync(dir, 0o757);
    expect(pycacheEnv(found, cache)).toEqual({});
    chmodSync(dir, 0o700);
    expect(pycacheEnv(found, cache)).toEqual({ PYTHONPYCACHEPREFIX: cache, PYTHONDONTWRITEBYTECODE: '1' });
    expect(pycacheEnv({ ...found!, mtimeMs: found!.mtimeMs + 1 }, cache)).toEqual({}); // gdb upgraded since
    expect(pycacheEnv({ ...found!, path: '/usr/bin/gdb' }, cache)).toEqual({});
    expect(pycacheEnv(null, cache)).toEqual({});
    writeFileSync(join(cache, 'stamp.json'), '{');
    expect(pycacheEnv(found, cache)).toEqual({});
  });

  it('the cache the build made for this gdb: gdb starts, and heapgap\'s files load, without compiling a source', () => {
    const gdb = gdbOnPath();
    expect(gdb, 'gdb on PATH').not.toBeNull();
    // used only where no one else can write to it (a checkout under a group-writable directory is not)
    const used = ownedSafely(PYCACHE_DIR);
    const cache = { PYTHONPYCACHEPREFIX: PYCACHE_DIR, PYTHONDONTWRITEBYTECODE: '1' };
    expect(pycacheEnv(gdb), `${PYCACHE_DIR}/stamp.json names ${gdb!.path} (npm run build makes it)`).toEqual(used ? cache : {});
    // what the build compiled, as gdb would read it: complete for what a session runs
    const env = cache;
    const files = ['src/collect/safe-call/driver.py', 'src/allocators/glibc/stop.py', 'src/allocators/glibc/stop_checks.py', 'src/allocators/glibc/heap_check.py', 'src/allocators/jemalloc/stop.py'].map((f) => packagePath(f));
    const script = [
      'import gdb, importlib.machinery as m, json, os',
      'compiled = []',
      'real = m.SourceFileLoader.source_to_code',
      'm.SourceFileLoader.source_to_code = lambda self, *a, **k: (compiled.append(self.path), real(self, *a, **k))[1]',
      `for f in ${JSON.stringify(files)}: m.SourceFileLoader("x", f).get_code("x")`,
      'print(json.dumps({"compiled": compiled, "gdbCached": gdb.__spec__.cached, "exists": os.path.exists(gdb.__spec__.cached)}))',
    ].join('\n');
    const out = execFileSync(gdb!.path, ['-nx', '--batch', '-ex', `python exec(${JSON.stringify(script)})`], { env: { ...process.env, ...env }, encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { compiled: string[]; gdbCached: string; exists: boolean };
    expect(r.compiled).toEqual([]);
    // gdb's own package (Debian ships it without bytecode) came from the cache too
    expect(r.gdbCached.startsWith(PYCACHE_DIR)).toBe(true);
    expect(r.exists).toBe(true);
  });
});
