// The sh line's gdb taken over by node (src/collect/safe-call/gdb-adopted.ts), against a stand-in
// process and a session directory made here as gdb-early.sh makes it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptedGdb } from '../../src/collect/safe-call/gdb-adopted.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

/** A session directory (mode 700, two FIFOs) and a live process standing in for its gdb. */
async function session(): Promise<{ dir: string; gdbPid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'heapgap-adopted-test-'));
  await execa('mkfifo', ['-m', '600', join(dir, 'out'), join(dir, 'err')]);
  const stand = spawn('sleep', ['30'], { stdio: 'ignore' });
  cleanups.push(() => (stand.kill('SIGKILL'), rmSync(dir, { recursive: true, force: true })));
  return { dir, gdbPid: stand.pid! };
}

describe('adoptedGdb', () => {
  it('"ready" read between its creation and its write (sh\'s `>`) is looked at again, not refused', async () => {
    const s = await session();
    writeFileSync(join(s.dir, 'ready'), '');
    const run = adoptedGdb(s);
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(join(s.dir, 'ready'), `${s.gdbPid}\n`);
    expect(await run.ready).toBe(true);
    process.kill(s.gdbPid, 'SIGKILL');
    await run.ended;
  });
  it("leaves no timer behind once its gdb has ended: node's exit would wait for it", async () => {
    const s = await session();
    // this stand-in holds the FIFOs as gdb does (opened read-write by its shell): its end closes them
    const holder = spawn('sh', ['-c', `exec 1<>"${s.dir}/out" 2<>"${s.dir}/err"; exec sleep 30`], { stdio: 'ignore' });
    cleanups.push(() => holder.kill('SIGKILL'));
    writeFileSync(join(s.dir, 'ready'), `${holder.pid}\n`);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const run = adoptedGdb({ dir: s.dir, gdbPid: holder.pid! });
    expect(await run.ready).toBe(true);
    await new Promise((r) => setTimeout(r, 30)); // into its wait for the end
    holder.kill('SIGKILL');
    await run.ended;
    expect(timers()).toBe(before);
  });
  it('"ready" naming another process is refused', async () => {
    const s = await session();
    writeFileSync(join(s.dir, 'ready'), `${s.gdbPid + 1}\n`);
    const run = adoptedGdb(s);
    expect(await run.ready).toBe(false);
    await run.ended;
  });
});
