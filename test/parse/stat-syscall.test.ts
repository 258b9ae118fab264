import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PF_KTHREAD, parseStat } from '../../src/parse/stat.js';
import { parseSyscall } from '../../src/parse/syscall.js';

describe('parseStat', () => {
  it('reads this process: running, not a kernel thread, a start time', () => {
    const s = parseStat(readFileSync('/proc/self/stat', 'latin1'))!;
    expect(s.state).toBe('R');
    expect(s.flags & PF_KTHREAD).toBe(0);
    expect(s.startTime).toMatch(/^\d+$/);
    expect(s.utime + s.stime).toBeGreaterThanOrEqual(0);
  });
  it('counts fields from the last parenthesis: a comm with spaces and ") " inside', () => {
    const tail = 'S 1 2 3 4 5 4194560 7 8 9 10 11 12 13 14 15 16 17 18 123456 20 21';
    const s = parseStat(`42 (a) b (c) d) ${tail}`)!;
    expect(s).toEqual({ state: 'S', ppid: 1, flags: 4194560, utime: 11, stime: 12, cutime: 13, cstime: 14, startTime: '123456', exitCode: null });
  });
  it("a zombie's parent and exit status, as waitpid would give it", { timeout: 20_000 }, async () => {
    // a child that exits 3 under a parent that never reaps it (sh exec'd into sleep). It exits
    // late: dash may reap a child already gone on its way to exec (seen 3 times in 20).
    const sh = spawn('sh', ['-c', '(sleep 0.5; exit 3) & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number((await new Promise<Buffer>((res) => sh.stdout.once('data', res))).toString());
      let s = parseStat(readFileSync(`/proc/${zombie}/stat`, 'latin1'))!;
      for (let i = 0; i < 1000 && s.state !== 'Z'; i++) {
        await new Promise((res) => setTimeout(res, 10));
        s = parseStat(readFileSync(`/proc/${zombie}/stat`, 'latin1'))!;
      }
      expect(s).toMatchObject({ state: 'Z', ppid: sh.pid, exitCode: 3 << 8 });
      expect(parseStat(readFileSync('/proc/self/stat', 'latin1'))).toMatchObject({ ppid: process.ppid, exitCode: 0 });
    } finally {
      sh.kill('SIGKILL');
    }
  });
  it('is null for an empty or cut line', () => {
    expect(parseStat('')).toBeNull();
    expect(parseStat('42 (x) S 1 2')).toBeNull();
  });
});

describe('parseSyscall', () => {
  it('a thread blocked in read(2): number, stack pointer, pc', () => {
    const s = parseSyscall('0 0x3 0x7ffd1 0x10 0x0 0x0 0x0 0x7ffd00001230 0x7f00000456a0\n');
    expect(s).toEqual({ blocked: true, nr: 0, sp: 0x7ffd00001230n, pc: 0x7f00000456a0n });
  });
  it('running, or a short line, is not blocked', () => {
    expect(parseSyscall('running\n')).toEqual({ blocked: false });
    expect(parseSyscall('-1 0x7ffd00001230 0x7f00000456a0\n')).toEqual({ blocked: false });
  });
});
