import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SmapsParser, parseSmaps } from '../../src/parse/smaps.js';
import { readProcChunks, readProcEach } from '../../src/collect/procfs.js';
import { HeapgapError } from '../../src/errors.js';
import { CAPTURES, fixture } from '../fixtures.js';

const rollupKb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)![1]) * 1024;

describe('parseSmaps', () => {
  it.each(CAPTURES)('%s: VMAs parse and sum to the kernel rollup', (name) => {
    const vmas = parseSmaps(fixture(name, 'smaps'));
    const rollup = fixture(name, 'smaps_rollup');
    expect(vmas.length).toBeGreaterThan(10);
    const sum = (f: (v: (typeof vmas)[number]) => number) => vmas.reduce((s, v) => s + f(v), 0);
    // captured one after the other from an idle process: equal up to a few pages
    expect(Math.abs(sum((v) => v.rss) - rollupKb(rollup, 'Rss'))).toBeLessThanOrEqual(64 * 1024);
    expect(Math.abs(sum((v) => v.anonymous) - rollupKb(rollup, 'Anonymous'))).toBeLessThanOrEqual(64 * 1024);
    for (const v of vmas) {
      expect(v.size).toBe(Number(v.end - v.start));
      expect(v.rss).toBeLessThanOrEqual(v.size);
    }
    expect(vmas.filter((v) => v.pathname === '[heap]').length).toBeLessThanOrEqual(1);
  });

  it('parses /proc/PID/maps lines (no fields) too', () => {
    const vmas = parseSmaps(fixture('pinned-threads', 'maps'));
    expect(vmas.length).toBeGreaterThan(10);
    expect(vmas.every((v) => v.rss === 0)).toBe(true);
  });

  it('says which line is wrong and what it expected', () => {
    const bad = '00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nRss:  4 kB\nthis is not smaps\n';
    expect(() => parseSmaps(bad)).toThrow(HeapgapError);
    expect(() => parseSmaps(bad)).toThrow(/smaps line 3: expected .*got "this is not smaps"/);
    expect(() => parseSmaps('Rss: 4 kB\n')).toThrow(/line 1: expected a VMA header before its fields/);
  });

  it('gives the same VMAs fed in buffers cut anywhere, lines spanning buffers included', () => {
    const text = fixture('multi-heap', 'smaps');
    const whole = parseSmaps(text);
    const bytes = Buffer.from(text, 'latin1');
    for (const size of [1, 7, 64, 4096, 65_537]) {
      const parser = new SmapsParser();
      // one scratch buffer reused for every piece, as readProcEach does
      const scratch = Buffer.alloc(size);
      for (let at = 0; at < bytes.length; at += size) {
        const n = bytes.copy(scratch, 0, at, at + size);
        parser.feed(scratch.subarray(0, n));
        scratch.fill(0x58); // the parser must have taken the bytes already
      }
      expect(parser.end()).toEqual(whole);
    }
    const cuts = [0, 100, 101, 5000, bytes.length];
    expect(parseSmaps(cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end)))).toEqual(whole);
    expect(parseSmaps(bytes)).toEqual(whole);
  });

  it('reads a text without a final newline, and a wrong line split across buffers is still named', () => {
    const parser = new SmapsParser('x');
    parser.feed(Buffer.from('00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nRss:    4 k'));
    parser.feed(Buffer.from('B'));
    expect(parser.end()).toMatchObject([{ rss: 4096, pathname: '/bin/x' }]);
    const broken = new SmapsParser('y');
    broken.feed(Buffer.from('00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nnot sm'));
    expect(() => {
      broken.feed(Buffer.from('aps\n'));
    }).toThrow(/y line 2: .*got "not smaps"/);
  });
});

describe('readProcChunks / readProcEach', () => {
  it('read a procfs file (size 0 to stat) whole, in buffers, and stop at a limit', () => {
    const expected = readFileSync(`/proc/${process.pid}/cmdline`);
    expect(expected.length).toBeGreaterThan(5);
    expect(Buffer.concat(readProcChunks(process.pid, 'cmdline'))).toEqual(expected);
    expect(Buffer.concat(readProcChunks(process.pid, 'cmdline', 5))).toEqual(expected.subarray(0, 5));
    const seen: number[] = [];
    readProcEach(process.pid, 'cmdline', (chunk) => seen.push(chunk.length));
    expect(seen.reduce((a, b) => a + b, 0)).toBe(expected.length);
  });

  it('pass what the callback throws through unchanged (a parse error is not a vanished process)', () => {
    const parseError = new HeapgapError('BAD_INPUT', 'smaps line 1: expected …');
    expect(() => readProcEach(process.pid, 'cmdline', () => {
      throw parseError;
    })).toThrow(parseError);
    const nodeError = Object.assign(new Error('out of range'), { code: 'ERR_OUT_OF_RANGE' });
    expect(() => readProcEach(process.pid, 'cmdline', () => {
      throw nodeError;
    })).toThrow(nodeError);
  });

  it('turn a missing process into NO_SUCH_PROCESS', () => {
    expect(() => readProcChunks(2 ** 22 + 1, 'maps')).toThrow(expect.objectContaining({ code: 'NO_SUCH_PROCESS' }));
  });
});
