// Bad input and unsupported targets: one `heapgap:` line, a hint, the contract's exit code, no trace.
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { buildTarget, procState, stopAllTargets } from '../helpers/targets.js';
import { gdbsLeftFor } from '../helpers/proc.js';
import { testDir } from '../helpers/scratch.js';

afterAll(stopAllTargets);

function clean(r: { stderr: string }): void {
  expect(r.stderr).toMatch(/^heapgap: /m);
  expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
}

async function sleeper(env: Record<string, string> = {}, bin = 'sleep'): Promise<{ pid: number; stop: () => Promise<void> }> {
  const p = execa(bin, ['30'], { env, reject: false });
  await new Promise((r) => setTimeout(r, 300));
  return { pid: p.pid!, stop: async () => void (p.kill('SIGKILL'), await p) };
}

describe('errors', () => {
  it('usage errors exit 2', async () => {
    for (const args of [['inspect', 'abc'], ['inspect'], ['nosuchcommand'], ['inspect', '1', '--format', 'yaml'], ['trim', '1', '--pad', 'lots']]) {
      const r = await runCli(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      clean(r);
    }
  });

  it('a usage error after a live pid: exit 2, and the gdb started for it ends by itself, the target untouched', async () => {
    const s = await sleeper();
    // gdb starts before the options are parsed (main.ts): it must not outlive the refusal
    const r = await runCli(['inspect', String(s.pid), '--format', 'yaml']);
    expect(r.exitCode).toBe(2);
    clean(r);
    expect(await gdbsLeftFor(s.pid), 'no gdb left for the target').toEqual([]);
    expect(procState(s.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await s.stop();
  });

  it('no such process exits 3 with a hint', async () => {
    const r = await runCli(['inspect', '4194303']);
    expect(r.exitCode).toBe(3);
    clean(r);
    expect(r.stderr).toMatch(/no process with pid 4194303/);
    expect(r.stderr).toMatch(/^hint: /m);
  });

  it('a kernel thread is refused', async () => {
    const r = await runCli(['inspect', '2']);
    expect(r.exitCode).toBe(3);
    clean(r);
  });

  it('a stopped target is refused and left as it was', async () => {
    const s = await sleeper();
    process.kill(s.pid, 'SIGSTOP');
    const r = await runCli(['inspect', String(s.pid)]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/stopped/);
    expect(procState(s.pid).state).toBe('T');
    process.kill(s.pid, 'SIGCONT');
    await s.stop();
  });

  // Skipped, saying which package, where the library is missing; .ci/run installs all three.
  // (issue 13: these used to be named and refused; now each is measured through its own API.)
  const LIB = '/usr/lib/x86_64-linux-gnu';
  it.for([
    ['jemalloc', `${LIB}/libjemalloc.so.2`, 'libjemalloc2'],
    ['tcmalloc', `${LIB}/libtcmalloc_minimal.so.4`, 'libtcmalloc-minimal4'],
    ['mimalloc', `${LIB}/libmimalloc.so.2`, 'libmimalloc2.0'],
  ] as const)('a %s target (LD_PRELOAD) is named and measured', async ([name, lib, pkg], ctx) => {
    if (!existsSync(lib)) ctx.skip(`${lib} not found (apt-get install -y ${pkg})`);
    const s = await sleeper({ LD_PRELOAD: lib });
    try {
      const maps = readFileSync(`/proc/${s.pid}/maps`, 'latin1');
      expect(maps).toContain(lib.slice(lib.lastIndexOf('/') + 1));
      const r = await runCli(['inspect', String(s.pid), '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { target: { allocator: string }; allocatorStats: Record<string, unknown> };
      expect(doc.target.allocator).toBe(name);
      expect(Object.keys(doc.allocatorStats)).toContain(name);
      expect(procState(s.pid).state).toBe('S');
    } finally {
      await s.stop();
    }
  });

  it.skipIf(!existsSync('/usr/bin/musl-gcc'))('musl is named and shown from smaps (no trim); a static binary is named, not measured', async () => {
    const src = `${await buildTarget('single-thread')}`; // ensures the cache dir exists
    const dir = src.slice(0, src.lastIndexOf('/'));
    for (const [cc, flags, word] of [['musl-gcc', [], 'musl'], ['gcc', ['-static'], 'static']] as const) {
      const bin = `${dir}/sleeper-${word}`;
      await execa(cc, [...flags, '-x', 'c', '-o', bin, '-'], { input: '#include <unistd.h>\nint main(void){ sleep(30); return 0; }\n' });
      const s = await sleeper({}, bin);
      const r = await runCli(['inspect', String(s.pid), '--json']);
      if (word === 'musl') {
        expect(r.exitCode, r.stderr).toBe(0);
        const doc = JSON.parse(r.stdout) as { target: { allocator: string }; findings: { kind: string }[]; pause: { stoppedMs: number | null } };
        expect(doc.target.allocator).toBe('musl');
        expect(doc.findings.map((f) => f.kind)).toContain('musl-no-stats');
        expect(doc.pause.stoppedMs).toBeNull();
        const t = await runCli(['trim', String(s.pid)]);
        expect(t.exitCode).toBe(3);
        expect(t.stderr).toMatch(/musl's malloc returns freed groups to the kernel itself/);
      } else {
        expect(r.exitCode, r.stderr).toBe(3);
        expect(r.stderr).toMatch(new RegExp(word));
      }
      expect(procState(s.pid)).toMatchObject({ alive: true, tracerPid: 0 });
      await s.stop();
    }
  });

  it('gdb missing or too old: exit 3, says what to install, the target untouched', async () => {
    const s = await sleeper();
    // a PATH with node (main.js's sh line runs it from PATH) and no gdb
    const nodeOnly = mkdtempSync(join(tmpdir(), 'heapgap-nogdb-'));
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
    const nogdb = await runCli(['inspect', String(s.pid)], { env: { PATH: nodeOnly } });
    rmSync(nodeOnly, { recursive: true, force: true });
    expect(nogdb.exitCode).toBe(3);
    expect(nogdb.stderr).toMatch(/^heapgap: gdb is not installed/m);
    expect(nogdb.stderr).toMatch(/^hint: install it: apt-get install gdb/m);
    const dir = testDir('heapgap-oldgdb-');
    writeFileSync(join(dir, 'gdb'), "#!/bin/sh\necho \"gdb: unrecognized option '--readnever'\" >&2\nexit 1\n");
    chmodSync(join(dir, 'gdb'), 0o755);
    const old = await runCli(['inspect', String(s.pid)], { env: { PATH: `${dir}:${process.env.PATH}` } });
    expect(old.exitCode).toBe(3);
    expect(old.stderr).toMatch(/^heapgap: this gdb is too old/m);
    expect(procState(s.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await s.stop();
  });

  it('unreadable or malformed input files exit 2', async () => {
    for (const input of ['', 'not json', '{"schema":"other"}', '{"schema":"heapgap.capture/1"}', '[]']) {
      const r = await runCli(['report', '-'], { input });
      expect(r.exitCode, input).toBe(2);
      clean(r);
    }
    const missing = await runCli(['report', '/nonexistent/capture.json']);
    expect(missing.exitCode).toBe(2);
    clean(missing);
  });
});
