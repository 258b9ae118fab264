import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasSignal, parseStatus } from '../../src/parse/status.js';
import { CAPTURES, fixture } from '../fixtures.js';

const own = () => readFileSync(`/proc/${process.pid}/status`, 'latin1');

describe('parseStatus', () => {
  it('reads this process as the kernel and node see it', () => {
    const s = parseStatus(own());
    expect(s.tgid).toBe(process.pid);
    expect(s.uid).toBe(process.getuid!());
    expect(s.tracerPid).toBe(0);
    expect(s.threads).toBeGreaterThanOrEqual(1);
    expect(s.state).toMatch(/^[RS]$/);
    // VmRSS against node's own figure, taken right after: same order, both in bytes
    const rss = process.memoryUsage.rss();
    expect(s.vmRss).toBeGreaterThan(rss / 2);
    expect(s.vmRss).toBeLessThan(rss * 2);
  });

  it.each(CAPTURES)('%s: the captured status parses', (name) => {
    const s = parseStatus(fixture(name, 'status'));
    expect(Number.isInteger(s.tgid)).toBe(true);
    expect(Number.isInteger(s.uid)).toBe(true);
    expect(s.vmRss).toBeGreaterThan(0);
  });

  it.each([
    ['Uid', /^Uid:.*$/m, 'Uid:\tx\tx\tx\tx', /Uid is not a number: "x"/],
    ['VmRSS', /^VmRSS:.*$/m, 'VmRSS:\t  12abc kB', /VmRSS is not a number: "12abc"/],
    ['Tgid', /^Tgid:.*$/m, 'Tgid:\t12abc', /Tgid is not a number/],
    ['Threads', /^Threads:.*$/m, 'Threads:\t', /Threads is not a number/],
  ])('a non-numeric %s is BAD_INPUT, not NaN', (_key, line, replacement, message) => {
    const text = own().replace(line, replacement);
    expect(() => parseStatus(text)).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(message) }));
  });

  it('reads the pending-signal masks, per thread and process-wide', () => {
    const s = parseStatus(own().replace(/^SigPnd:.*$/m, 'SigPnd:\t0000000000040000').replace(/^ShdPnd:.*$/m, 'ShdPnd:\t0000000000000100'));
    expect(hasSignal(s.sigPnd, 19)).toBe(true); // SIGSTOP
    expect(hasSignal(s.sigPnd, 18)).toBe(false);
    expect(hasSignal(s.shdPnd, 9)).toBe(true); // SIGKILL
  });

  it('a missing required line is named', () => {
    expect(() => parseStatus(own().replace(/^Tgid:.*\n/m, ''))).toThrow(/expected a `Tgid:` line/);
  });
});
