// Which command lines start gdb before the program has loaded (main.ts): only those that attach, with
// the pid right after the command, and never a request for help.
import { describe, expect, it } from 'vitest';
import { earlyPidOf } from '../../src/collect/safe-call/gdb-process.js';

const argv = (...args: string[]) => ['node', 'heapgap', ...args];

describe('earlyPidOf', () => {
  it('inspect, trim and capture with a pid first', () => {
    expect(earlyPidOf(argv('inspect', '1234'))).toBe(1234);
    expect(earlyPidOf(argv('trim', '77', '--pad', '0', '--json'))).toBe(77);
    expect(earlyPidOf(argv('capture', '9', '-o', 'x.json'))).toBe(9);
  });

  it('nothing for other commands, options before the pid, help, or what is not a pid', () => {
    expect(earlyPidOf(argv('report', '1234'))).toBeNull();
    expect(earlyPidOf(argv('top', '--pid', '1234'))).toBeNull();
    expect(earlyPidOf(argv('inspect', '--timeout', '5s', '1234'))).toBeNull();
    expect(earlyPidOf(argv('inspect', '1234', '--help'))).toBeNull();
    expect(earlyPidOf(argv('trim', '-h', '1234'))).toBeNull();
    for (const bad of ['0', '-1', '12a', '0x10', '12345678901', '']) expect(earlyPidOf(argv('inspect', bad)), bad).toBeNull();
    expect(earlyPidOf(argv('inspect'))).toBeNull();
    expect(earlyPidOf(argv())).toBeNull();
  });
});
