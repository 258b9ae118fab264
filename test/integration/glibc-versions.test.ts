// Other glibc versions, as users' hosts have them: Debian bullseye (glibc 2.31) and trixie (2.41)
// roots made by debootstrap (scripts/make-chroots.sh; .ci/run makes them), each running its own
// python3 in new pid and mount namespaces: a program heapgap did not write, a libc heapgap has only
// through /proc/PID/root. What heapgap reads of the main arena is checked against glibc's own
// reading of itself, taken in the target (mallinfo on 2.31, mallinfo2 on 2.41), and a trim is made
// and measured.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { procState, TARGETS_DIR } from '../helpers/targets.js';
import type { InspectReport } from '../../src/types.js';

const ROOTS = process.env.HEAPGAP_CHROOTS ?? '/var/tmp/heapgap-chroots';
const RELEASES = [
  { name: 'bullseye', glibc: '2.31' },
  { name: 'trixie', glibc: '2.41' },
];

interface Reading {
  arena: number;
  hblkhd: number;
  uordblks: number;
  fordblks: number;
  call: string;
}

const children: ReturnType<typeof execa>[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGTERM'); // --kill-child takes the namespace's init with it
  await Promise.all(children.map((c) => c.catch(() => undefined)));
});

const isRoot = process.getuid?.() === 0;

describe.each(RELEASES)('glibc $glibc (Debian $name, in its own root and namespaces)', ({ name, glibc }) => {
  const root = join(ROOTS, name);
  const ready = isRoot && existsSync(join(root, 'usr/bin/python3'));
  it.skipIf(!ready)(`inspect reads its main arena as glibc itself does; trim returns memory (needs ${root}: scripts/make-chroots.sh, as root)`, { timeout: 120_000 }, async () => {
    copyFileSync(join(TARGETS_DIR, 'py-alloc.py'), join(root, 'tmp/py-alloc.py'));
    const child = execa('unshare', ['--mount', '--pid', '--fork', '--kill-child=SIGKILL', 'chroot', root, '/usr/bin/python3', '/tmp/py-alloc.py', '20000', '2000'], { reject: false, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, extendEnv: false });
    children.push(child);
    const lines: string[] = [];
    const waiting: ((line: string) => void)[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiting.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    const exited = child.then((r) => Promise.reject(new Error(`python3 in ${root} exited: ${r.stderr}`)));
    exited.catch(() => undefined);
    const next = () => Promise.race([exited, new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiting.push(resolve)))]);
    const truth = JSON.parse(await next()) as { pid: number; self: Reading };
    expect(truth.pid).toBe(1);
    expect(truth.self.call).toBe(glibc >= '2.33' ? 'mallinfo2' : 'mallinfo');
    const pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    // glibc's reading, in the target, right before and right after heapgap's inspect (SIGUSR1 asks
    // for one). Each reading allocates a little after mallinfo returns (python builds and prints
    // the line, about 2 KiB): heapgap's figures must lie between the two.
    const reading = async () => {
      process.kill(pid, 'SIGUSR1');
      return (JSON.parse(await next()) as { self: Reading }).self;
    };
    await reading();
    const before = await reading();

    const r = await runCli(['inspect', String(pid), '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as InspectReport;
    expect(report.target.glibcVersion).toBe(glibc);
    expect(report.target.allocator).toBe('glibc');
    // one thread: the main arena is all of malloc's heap, and python is idle since its reading
    const after = await reading();
    const main = report.arenas.find((a) => a.kind === 'main')!;
    const between = (v: number, a: number, b: number) => v >= Math.min(a, b) && v <= Math.max(a, b);
    const table = `heapgap system ${main.systemBytes} in use ${main.inUseBytes} free ${main.freeBytes}; glibc before ${JSON.stringify(before)} after ${JSON.stringify(after)}`;
    expect(after.arena, table).toBe(before.arena);
    expect(Math.abs(after.uordblks - before.uordblks), table).toBeLessThan(8192);
    expect(main.systemBytes, table).toBe(before.arena);
    expect(between(main.inUseBytes, before.uordblks, after.uordblks), table).toBe(true);
    expect(between(main.freeBytes, before.fordblks, after.fordblks), table).toBe(true);
    expect(report.mmapChunks.bytes, table).toBe(before.hblkhd);
    expect(main.join).toBe('memory');
    expect(procState(pid)).toMatchObject({ alive: true, tracerPid: 0 });

    const t = await runCli(['trim', String(pid), '--json']);
    expect(t.exitCode, t.stderr).toBe(0);
    const trim = JSON.parse(t.stdout) as { returned: number | null; measured: { rssDeltaBytes: number } };
    expect(trim.returned).toBe(1);
    expect(procState(pid)).toMatchObject({ alive: true, tracerPid: 0 });
  });
});
