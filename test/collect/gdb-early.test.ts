// gdb started by main.js's sh line before node (src/collect/safe-call/gdb-early.sh, built into
// dist/cli/): node adopts it; when it cannot be started node starts its own; one nobody takes ends;
// the built file names neither the build's directory nor a fixed pid.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, REPO_ROOT, spawnCli } from '../helpers/cli.js';
import { gdbsFor, gdbsLeftFor } from '../helpers/proc.js';
import { procState, startTarget, stopAllTargets } from '../helpers/targets.js';

afterAll(stopAllTargets);
const scratch = mkdtempSync(join(tmpdir(), 'heapgap-early-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const EARLY = join(REPO_ROOT, 'dist', 'cli', 'gdb-early.sh');

/** The CLI, its pid kept: gdb's session directory is named after it. */
async function inspect(pid: number, env: Record<string, string> = {}): Promise<{ exitCode: number; stderr: string; stdout: string; cli: number }> {
  let cli = 0;
  const r = await spawnCli(['inspect', String(pid), '--json'], (_s, child) => (cli = child.pid ?? 0), { env: { HEAPGAP_DEBUG: '1', ...env } });
  return { ...r, cli };
}

describe("gdb started by main.js's sh line", () => {
  it('is built for any pid and any install directory', () => {
    const text = readFileSync(EARLY, 'utf8');
    expect(text).not.toContain(REPO_ROOT);
    expect(text).not.toContain('4294967295');
    expect(text).not.toContain('@GDB_ARGS@');
    // the pid in gdb's command line (exe_check.py's) and the directory of gdb's files are sh's
    expect(text).toMatch(/load_exe\('"\$2"'/);
    expect(text).toMatch(/'set tdesc filename '"\$hg_root\/src\/collect\/safe-call"'\/amd64-linux-sse\.xml'/);
    // Python finds the driver through HEAPGAP_ASSETS, which the shell exports: no path in Python source
    expect(text).toMatch(/HEAPGAP_ASSETS="\$hg_root\/src\/collect\/safe-call"/);
    expect(text).toMatch(/'python heapgap\.heapgap_attach\('"\$2"'\)'/);
    expect(text).not.toMatch(/'-ex' 'attach /);
  });

  it('is adopted by node: no second gdb, its directory gone afterwards, the target untouched', { timeout: 60_000 }, async () => {
    const t = await startTarget('churn', ['2']);
    const r = await inspect(t.pid);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^heapgap-n gdb-adopted /m);
    expect(r.stderr).not.toMatch(/^heapgap-n gdb-spawned /m);
    expect(r.stderr).toMatch(/^heapgap-t detached /m);
    expect(existsSync(join(tmpdir(), `heapgap-early-${r.cli}`))).toBe(false);
    expect(await gdbsLeftFor(t.pid)).toEqual([]);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });

  it('when its shell cannot make the session directory, node starts gdb itself', { timeout: 60_000 }, async () => {
    // node, gdb and sleep (the throwaway attach) on PATH; no mkdir or mkfifo
    const bin = join(scratch, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const name of ['node', 'gdb', 'sleep']) {
      const real = (await execa('sh', ['-c', `command -v ${name}`])).stdout.trim();
      if (!existsSync(join(bin, name))) symlinkSync(real, join(bin, name));
    }
    const t = await startTarget('churn', ['2']);
    const r = await inspect(t.pid, { PATH: bin });
    expect(r.exitCode, r.stderr).toBe(0);
    // (its shell, gone at once, may even be reaped before node looks: then nothing is adopted)
    expect(r.stderr).toMatch(/^heapgap-n gdb-spawned /m);
    expect(await gdbsLeftFor(t.pid)).toEqual([]);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });

  it('one nobody takes (heapgap refuses before attaching) ends by itself, with its directory', { timeout: 60_000 }, async () => {
    // a stopped target is refused before attach (preflight); the early gdb was started for it
    const t = await startTarget('churn', ['2']);
    process.kill(t.pid, 'SIGSTOP');
    try {
      const r = await inspect(t.pid);
      expect(r.exitCode, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/stopped/);
      expect(r.stderr).toMatch(/^heapgap-n gdb-adopted /m);
      expect(await gdbsLeftFor(t.pid)).toEqual([]);
      for (let i = 0; i < 100 && existsSync(join(tmpdir(), `heapgap-early-${r.cli}`)); i++) await new Promise((res) => setTimeout(res, 50));
      expect(existsSync(join(tmpdir(), `heapgap-early-${r.cli}`))).toBe(false);
      expect(procState(t.pid).tracerPid).toBe(0);
    } finally {
      process.kill(t.pid, 'SIGCONT');
      await t.stop();
    }
  });

  it('whose heapgap died before node started (a signal to the sh) ends by itself, with its directory', { timeout: 60_000 }, async () => {
    // the sh line's work, then an exit where it would exec node: gdb is the orphan of a dead shell
    const t = await startTarget('churn', ['2']);
    const sh = await execa('sh', ['-c', `hg_main=${CLI_PATH}; set -- inspect ${t.pid}; . ${EARLY}; echo "$hg_early"`], { stdin: 'ignore' });
    const [gdbPid, , dir] = sh.stdout.trim().split(' ');
    expect(Number(gdbPid)).toBeGreaterThan(0);
    expect(dir).toMatch(/\/heapgap-early-\d+$/);
    // it starts, finds the shell that named itself (HEAPGAP_PARENT) gone, and quits before any attach
    for (let i = 0; i < 200 && (existsSync(`/proc/${gdbPid}`) || existsSync(dir!)); i++) await new Promise((res) => setTimeout(res, 50));
    expect(existsSync(`/proc/${gdbPid}`), 'gdb still running').toBe(false);
    expect(existsSync(dir!), 'its directory left').toBe(false);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });

  it("a directory of that name made by someone else is not used, and nothing is written through it", { timeout: 60_000 }, async () => {
    // made before heapgap's shell could: world-writable, with a link where the parameters go
    const victim = join(scratch, 'victim');
    writeFileSync(victim, 'ORIGINAL');
    const t = await startTarget('churn', ['2']);
    const r = await execa('sh', ['-c', `d=\${TMPDIR:-/tmp}/heapgap-early-$$; mkdir -m 777 $d && ln -s ${victim} $d/params.json.tmp && ln -s ${victim} $d/params.json && exec ${CLI_PATH} inspect ${t.pid} --json`], { env: { HEAPGAP_DEBUG: '1' }, reject: false, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^heapgap-n gdb-spawned /m); // node's own gdb did the work
    expect(readFileSync(victim, 'utf8')).toBe('ORIGINAL');
    expect(await gdbsLeftFor(t.pid)).toEqual([]);
    // not heapgap's to remove: the test made it
    const made = /^heapgap-n gdb-spawned/m.test(r.stderr) ? readdirSync(tmpdir()).filter((n) => n.startsWith('heapgap-early-') && lstatSync(join(tmpdir(), n)).mode & 0o002) : [];
    for (const n of made) rmSync(join(tmpdir(), n), { recursive: true, force: true });
    await t.stop();
  });

  it('made slowly (its directory after node looked for it) is still waited for, held', { timeout: 60_000 }, async () => {
    // mkfifo taking 1 s: node reaches the session before the directory is ready
    const bin = join(scratch, 'slow');
    mkdirSync(bin, { recursive: true });
    const mkfifo = (await execa('sh', ['-c', 'command -v mkfifo'])).stdout.trim();
    writeFileSync(join(bin, 'mkfifo'), `#!/bin/sh\nsleep 1\nexec ${mkfifo} "$@"\n`, { mode: 0o755 });
    const t = await startTarget('churn', ['2']);
    const r = await inspect(t.pid, { PATH: `${bin}:${process.env.PATH}` });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^heapgap-n gdb-adopted /m);
    expect(r.stderr).not.toMatch(/^heapgap-n gdb-spawned /m);
    expect(JSON.parse(r.stdout)).toHaveProperty('arenas');
    await t.stop();
  });

  it('a gdb interrupted while it waits for its parameters never attaches', { timeout: 60_000 }, async () => {
    // gdb runs every -ex command after a failed one: interrupted in the driver's wait, it once went
    // on to a bare `attach` and, ended there, left the target stopped
    const t = await startTarget('churn', ['2']);
    const sh = execa('sh', ['-c', `hg_main=${CLI_PATH}; set -- inspect ${t.pid}; . ${EARLY}; echo "$hg_early"; sleep 8`], { stdin: 'ignore', buffer: false });
    const line = await new Promise<string>((res) => sh.stdout!.once('data', (d: Buffer) => res(d.toString())));
    const [gdbPid, , dir] = line.trim().split(' ');
    // gdb loaded and waiting (its start, throwaway attach and driver take ~0.3 s here; earlier, the
    // signal lands in another phase before attach, which must not attach either)
    expect(dir).toMatch(/heapgap-early-/);
    await new Promise((res) => setTimeout(res, 1500));
    process.kill(Number(gdbPid), 'SIGTERM');
    let seen = procState(t.pid);
    for (let i = 0; i < 40; i++) {
      await new Promise((res) => setTimeout(res, 50));
      seen = procState(t.pid);
      expect(seen.tracerPid, 'traced').toBe(0);
      expect(seen.state, 'stopped').not.toMatch(/^[Tt]$/);
    }
    sh.kill('SIGKILL');
    await sh.catch(() => undefined);
    rmSync(dir!, { recursive: true, force: true }); // gdb was killed: nothing of heapgap's was left to remove it
    await t.stop();
  });

  it('node run directly (no sh line) starts its own, as before', { timeout: 60_000 }, async () => {
    const t = await startTarget('churn', ['2']);
    const r = await execa(process.execPath, [CLI_PATH, 'inspect', String(t.pid), '--json'], { env: { HEAPGAP_DEBUG: '1' }, reject: false, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^heapgap-n gdb-spawned /m);
    expect(r.stderr).not.toMatch(/^heapgap-n gdb-adopted /m);
    expect(gdbsFor(t.pid)).toEqual([]);
    await t.stop();
  });
});

describe("heapgap's exit", () => {
  /** bin/ with `gdb` as the given sh script (`$GDB` the real one) and node, sleep, and, with sh, mkdir, mkfifo and find. */
  async function binWith(name: string, gdbScript: string, sh: boolean): Promise<string> {
    const bin = join(scratch, name);
    mkdirSync(bin, { recursive: true });
    const gdb = (await execa('sh', ['-c', 'command -v gdb'])).stdout.trim();
    writeFileSync(join(bin, 'gdb'), `#!/bin/sh\nGDB=${gdb}\n${gdbScript}`, { mode: 0o755 });
    for (const tool of ['node', 'sleep', ...(sh ? ['mkdir', 'mkfifo', 'find'] : [])]) {
      const real = (await execa('sh', ['-c', `command -v ${tool}`])).stdout.trim();
      if (!existsSync(join(bin, tool))) symlinkSync(real, join(bin, tool));
    }
    return bin;
  }

  it("does not wait for the sh line's gdb once it has detached and handed over its result", { timeout: 60_000 }, async () => {
    // The process node adopts (the sh line's child) runs gdb and then lives on, holding gdb's output
    // FIFOs: a heapgap that waited for its end would run 30 s more.
    const holder = join(scratch, 'adopted-holder.pid');
    const bin = await binWith('adopted', `echo $$ > ${holder}\nHEAPGAP_PARENT=$$ "$GDB" "$@"\nexec sleep 30\n`, true);
    const t = await startTarget('churn', ['2']);
    try {
      const r = await spawnCli(['inspect', String(t.pid), '--json'], undefined, { env: { PATH: bin } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveProperty('arenas');
      const lingering = Number(readFileSync(holder, 'utf8'));
      expect(procState(lingering).alive, 'heapgap waited for its gdb to end').toBe(true);
      process.kill(lingering, 'SIGKILL');
      expect(await gdbsLeftFor(t.pid)).toEqual([]);
      expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    } finally {
      await t.stop();
    }
  });

  it('waits for a gdb it started itself, and so reaps it', { timeout: 60_000 }, async () => {
    // no mkdir or mkfifo: node spawns gdb; a background sleep holds its output for 10 s
    const holder = join(scratch, 'spawned-holder.pid');
    const bin = await binWith('spawned', `sleep 10 &\necho $! > ${holder}\nexec "$GDB" "$@"\n`, false);
    const t = await startTarget('churn', ['2']);
    try {
      const r = await spawnCli(['inspect', String(t.pid), '--json'], undefined, { env: { PATH: bin } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveProperty('arenas');
      expect(procState(Number(readFileSync(holder, 'utf8'))).alive, 'heapgap ended before its own gdb had').toBe(false);
      expect(gdbsFor(t.pid)).toEqual([]);
      expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    } finally {
      await t.stop();
    }
  });
});
