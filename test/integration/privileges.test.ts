// Who may inspect whom: the same user works; another uid with CAP_SYS_PTRACE only, or without
// it, is refused before attaching with a reason and a way out. Needs root to switch users.
import { chmodSync, cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { runCli, CLI_PATH, REPO_ROOT } from '../helpers/cli.js';
import { buildTarget, parseTruth, procState, startTarget, stopAllTargets } from '../helpers/targets.js';
import type { InspectReport } from '../../src/types.js';

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const started: ReturnType<typeof execa>[] = [];
let copy: string | null = null;

/**
 * The CLI as another uid can run it. A checkout under a directory only root may enter (root's home
 * is 0700 on a fresh machine) cannot be reached by uid 65534: then the built CLI, the files it reads
 * at run time and its dependencies are copied to a world-readable directory, as an installed copy is.
 */
function cliForOthers(): string {
  if (worldReachable(REPO_ROOT)) return CLI_PATH;
  if (copy === null) {
    copy = mkdtempSync(join(tmpdir(), 'heapgap-cli-'));
    chmodSync(copy, 0o755);
    for (const part of ['dist', 'src', 'node_modules', 'package.json']) cpSync(join(REPO_ROOT, part), join(copy, part), { recursive: true });
  }
  return join(copy, 'dist', 'cli', 'main.js');
}

/** Every directory from / down to dir can be entered by any user. */
function worldReachable(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === '/') return true;
  }
}

afterAll(async () => {
  if (copy) rmSync(copy, { recursive: true, force: true });
  for (const p of started) p.kill('SIGKILL');
  await Promise.all(started.map((p) => p.catch(() => undefined)));
  await stopAllTargets();
});

async function heapgapAs(setpriv: string[], pid: number) {
  const r = await execa('setpriv', [...setpriv, process.execPath, cliForOthers(), 'inspect', String(pid), '--json'], { reject: false, env: { NO_COLOR: '1' } });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe.skipIf(process.getuid?.() !== 0)('privileges', () => {
  it('a non-root user inspects its own process', async () => {
    const bin = await buildTarget('pinned-threads');
    const p = execa('setpriv', [...NOBODY, bin, '2', '100', '32768'], { reject: false });
    started.push(p);
    const truth = parseTruth(await new Promise<string>((resolve) => p.stdout!.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0]!))));
    const r = await heapgapAs(NOBODY, truth.pid);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as InspectReport;
    for (const th of truth.threads) expect(report.arenas.find((a) => a.heaps.some((h) => h.start === th.heapBases[0]))?.pinnedTop).toBe(th.pinned);
    expect(procState(truth.pid)).toMatchObject({ alive: true, tracerPid: 0 });
  });

  it('another uid: refused without CAP_SYS_PTRACE, and with it alone, before attaching', async () => {
    const t = await startTarget('pinned-threads', ['2', '100', '32768']);
    const without = await heapgapAs(NOBODY, t.pid);
    expect(without.exitCode).toBe(3);
    expect(without.stderr).toMatch(/^heapgap: cannot open \/proc\/\d+\/mem/m);
    expect(without.stderr).toMatch(/^hint: .*CAP_SYS_PTRACE/m);
    const capOnly = await heapgapAs([...NOBODY, '--inh-caps=+sys_ptrace', '--ambient-caps=+sys_ptrace'], t.pid);
    expect(capOnly.exitCode).toBe(3);
    expect(capOnly.stderr).toMatch(/^heapgap: cannot open \/proc\/\d+\/mem .*uid 0/m);
    expect(capOnly.stderr).toMatch(/^hint: run heapgap as the target's user/m);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0, state: 'S' });
    await t.stop();
  });

  it('the fallback output channel (memfd mapped in the target, read by ptrace) gives the same figures', async () => {
    const t = await startTarget('pinned-threads', ['2', '100', '32768']);
    const a = JSON.parse((await runCli(['inspect', String(t.pid), '--json'])).stdout) as InspectReport;
    const b = JSON.parse((await runCli(['inspect', String(t.pid), '--json'], { env: { HEAPGAP_CHANNEL: 'mmap' } })).stdout) as InspectReport;
    expect(b.arenas.map((x) => [x.index, x.systemBytes, x.rssBytes])).toEqual(a.arenas.map((x) => [x.index, x.systemBytes, x.rssBytes]));
    for (let i = 0; i < a.arenas.length; i++) expect(Math.abs(b.arenas[i]!.inUseBytes - a.arenas[i]!.inUseBytes)).toBeLessThanOrEqual(1024);
    expect(procState(t.pid)).toMatchObject({ alive: true, tracerPid: 0 });
    await t.stop();
  });
});
