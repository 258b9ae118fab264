// A target in its own pid and mount namespace whose libc exists only inside its root (a container,
// as heapgap sees one from the host): libc is read through /proc/PID/root, the pid is the host's.
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH, runCli } from '../helpers/cli.js';
import { buildTarget, procState, parseTruth } from '../helpers/targets.js';
import type { InspectReport } from '../../src/types.js';

const root = mkdtempSync(join(tmpdir(), 'heapgap-root-'));
let child: ReturnType<typeof execa> | null = null;
let init: ReturnType<typeof execa> | null = null;
afterAll(async () => {
  for (const c of [child, init]) {
    c?.kill('SIGTERM'); // --kill-child takes the namespace's init with it
    await c?.catch(() => undefined);
  }
  rmSync(root, { recursive: true, force: true });
});

/** Every child of every thread of `pid`, with its state: a zombie there is one it has to reap. */
function childrenOf(pid: number): string[] {
  const out: string[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
      out.push(`${c} ${readFileSync(`/proc/${c}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[0]}`);
    }
  }
  return out;
}

describe.skipIf(process.getuid?.() !== 0)('targets in containers', () => {
  it('inspects a chrooted target in new pid and mount namespaces with a libc only it can see', async () => {
    const bin = await buildTarget('pinned-threads');
    mkdirSync(join(root, 'opt/glibc'), { recursive: true });
    mkdirSync(join(root, 'lib64'), { recursive: true });
    copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', join(root, 'opt/glibc/libc.so.6'));
    copyFileSync('/lib64/ld-linux-x86-64.so.2', join(root, 'lib64/ld-linux-x86-64.so.2'));
    copyFileSync(bin, join(root, 'target'));
    child = execa('unshare', ['--mount', '--pid', '--fork', '--kill-child=SIGKILL', 'chroot', root, '/target', '2', '100', '32768'], { env: { LD_LIBRARY_PATH: '/opt/glibc' }, reject: false });
    const line = await new Promise<string>((resolve) => child!.stdout!.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0]!)));
    const truth = parseTruth(line);
    expect(truth.pid).toBe(1); // its own pid namespace: the line says 1, the host knows another pid
    // unshare --fork's only child is the target (chroot execs it): its host pid.
    const pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    expect(readFileSync(`/proc/${pid}/maps`, 'utf8')).toMatch(/\/opt\/glibc\/libc\.so\.6/);
    const r = await runCli(['inspect', String(pid), '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as InspectReport;
    expect(report.target.glibcVersion).toBe('2.36');
    for (const th of truth.threads) {
      const a = report.arenas.find((x) => x.heaps.some((h) => h.start === th.heapBases[0]));
      expect(a?.join).toBe('memory');
      expect(a!.pinnedTop).toBe(th.pinned);
    }
    expect(procState(pid)).toMatchObject({ alive: true, tracerPid: 0 });
  });

  it("run inside the target's own pid namespace, where it is PID 1, leaves it nothing to reap", { timeout: 60_000 }, async () => {
    // `kubectl exec POD -- heapgap inspect 1`: what heapgap leaves when it exits is the target's.
    // The gdb main.js's sh line starts is node's child but not one node can reap; for PID 1 node
    // starts its own, and reaps it.
    const bin = await buildTarget('pinned-threads');
    init = execa('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', bin, '2', '100', '32768'], { reject: false });
    const line = await new Promise<string>((resolve) => init!.stdout!.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0]!)));
    expect(parseTruth(line).pid).toBe(1);
    const pid = Number(readFileSync(`/proc/${init.pid}/task/${init.pid}/children`, 'utf8').trim().split(' ')[0]);
    expect(childrenOf(pid)).toEqual([]);
    const r = await execa('nsenter', ['-t', String(pid), '-p', '-m', '--', CLI_PATH, 'inspect', '1', '--json'], { reject: false, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as InspectReport).target.pid).toBe(1);
    // a gdb still exiting would be listed for a moment: given 2 s, nothing may be left
    let left = childrenOf(pid);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      left = childrenOf(pid);
    }
    expect(left, 'children (zombies) left to the target').toEqual([]);
    expect(procState(pid)).toMatchObject({ alive: true, tracerPid: 0 });
    // refused before attaching (the target is stopped): the gdb started for it is told to quit, and
    // waited for, not left behind to end after heapgap
    process.kill(pid, 'SIGSTOP');
    try {
      const refused = await execa('nsenter', ['-t', String(pid), '-p', '-m', '--', CLI_PATH, 'inspect', '1', '--json'], { reject: false, stdin: 'ignore' });
      expect(refused.exitCode, refused.stderr).toBe(3);
      expect(refused.stderr).toMatch(/stopped/);
      left = childrenOf(pid);
      for (let i = 0; i < 40 && left.length > 0; i++) {
        await new Promise((res) => setTimeout(res, 50));
        left = childrenOf(pid);
      }
      expect(left, 'children (zombies) left to the target after a refusal').toEqual([]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
