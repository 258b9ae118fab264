// gdb runs nothing the target supplies, and a gdb that crashes on the target's files is reported
// as such (and tried once more with less of them). Needs gdb and gcc; the auto-load test needs to
// write under /usr/lib/debug (gdb's default auto-load safe-path), so it runs as root.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { buildTarget, procState, startTarget, stopAllTargets } from '../helpers/targets.js';

const DEBUG_DIR = '/usr/lib/debug';
const canWriteDebugDir = (() => {
  try {
    accessSync(DEBUG_DIR, constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'heapgap-gdb-'));
});
afterAll(async () => {
  await stopAllTargets();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('gdb runs nothing the target supplies', () => {
  it.skipIf(!canWriteDebugDir)('an inline Python script in the executable\'s .debug_gdb_scripts never runs', { timeout: 60_000 }, async () => {
    // The executable lives where gdb trusts auto-loaded scripts by default.
    const home = join(DEBUG_DIR, `heapgap-test-${process.pid}`);
    const exe = join(home, 'carrier');
    await mkdir(home, { recursive: true });
    try {
      await copyFile(await buildTarget('gdb-script-carrier'), exe);
      // Control: a plain gdb loading that file runs the script (so the test can fail).
      const control = join(dir, 'control-ran');
      await execa('gdb', ['-nx', '--batch', '-ex', `file ${exe}`], { env: { HEAPGAP_SCRIPT_PROOF: control }, reject: false, timeout: 30_000 });
      expect(existsSync(control), 'a plain gdb runs the carrier\'s script').toBe(true);
      const child = spawn(exe, [], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
        const pid = (JSON.parse(line) as { pid: number }).pid;
        const proof = join(dir, 'heapgap-ran');
        const r = await runCli(['inspect', String(pid), '--json'], { env: { HEAPGAP_SCRIPT_PROOF: proof } });
        expect(r.exitCode, r.stderr).toBe(0);
        expect(existsSync(proof), 'the script ran inside heapgap\'s gdb').toBe(false);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('a gdb that crashes on the target\'s files', () => {
  // A stand-in first on PATH for the real gdb. on-exe: the real gdb, in which loading the target's
  // executable (`file /proc/PID/exe`, made by exe_check.py) is a SIGSEGV, as gdb 13 died on a hostile
  // executable (gdb's handler says "Fatal signal"). always: dies of SIGSEGV as it starts.
  async function crashingGdb(always: boolean): Promise<string> {
    const bin = join(dir, always ? 'always' : 'on-exe');
    await mkdir(bin, { recursive: true });
    const real = (await execa('sh', ['-c', 'command -v gdb'])).stdout.trim();
    const crashOnFile = 'python import gdb, os, signal; heapgap_execute = gdb.execute; gdb.execute = lambda c, *a, **k: os.kill(os.getpid(), signal.SIGSEGV) if c.startswith("file /proc/") else heapgap_execute(c, *a, **k)';
    await writeFile(join(bin, 'gdb'), [
      '#!/usr/bin/env python3',
      'import os, signal, sys',
      'args = sys.argv[1:]',
      ...(always
        ? ['sys.stderr.write("Fatal signal: Segmentation fault\\n"); sys.stderr.flush()', 'os.kill(os.getpid(), signal.SIGSEGV)']
        : [`args = ["-iex", ${JSON.stringify(crashOnFile)}] + args`]),
      `os.execv(${JSON.stringify(real)}, ["gdb"] + args)`,
      '',
    ].join('\n'), { mode: 0o755 });
    return bin;
  }

  it('is said so, and heapgap tries once more without the executable', { timeout: 60_000 }, async () => {
    const bin = await crashingGdb(false);
    const t = await startTarget('churn', ['2']);
    const r = await runCli(['inspect', String(t.pid), '--json'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { notes: string[]; arenas: unknown[] };
    expect(doc.notes.join('\n')).toMatch(/gdb crashed \(SIGSEGV\) while loading the target's executable; heapgap ran it again without loading the executable/);
    expect(doc.arenas.length).toBeGreaterThan(1);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });

  it('a gdb that crashes before it reads the executable is a clear error (exit 3), not tried again', { timeout: 60_000 }, async () => {
    const bin = await crashingGdb(true);
    const t = await startTarget('churn', ['2']);
    const r = await runCli(['inspect', String(t.pid)], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^heapgap: gdb crashed \(SIGSEGV\) while starting \(the target's executable was not loaded\); the target was not touched$/m);
    expect(r.stderr).not.toMatch(/trying again/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const st = procState(t.pid);
    expect(st).toMatchObject({ alive: true, tracerPid: 0 });
    expect(st.state).not.toMatch(/^[Tt]$/);
    await t.stop();
  });
});
