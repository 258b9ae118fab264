import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHsperfdata } from '../../src/runtimes/jvm/hsperfdata.js';
import { recogniseJvm } from '../../src/runtimes/jvm.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import { baseCategory } from '../../src/analyse/regions.js';
import { HeapgapError } from '../../src/errors.js';
import { FIXTURES } from '../fixtures.js';

const dir = join(FIXTURES, 'jvm-idle-g1');
const file = (n: string) => readFileSync(join(dir, n));
const info = file('jcmd-vm-info.txt').toString();
const heapInfo = file('jcmd-gc-heap-info.txt').toString();
const K = 1024;

describe('parseHsperfdata', () => {
  const c = parseHsperfdata(file('hsperfdata'));
  it('reads the counters the JVM publishes, agreeing with what jcmd says', () => {
    expect(c['sun.gc.policy.name']).toBe('GarbageFirst');
    expect(c['java.rt.vmArgs']).toContain('-Xmx256m');
    const reserved = /Metaspace\s+used \d+K, committed \d+K, reserved (\d+)K/.exec(heapInfo)![1];
    expect(c['sun.gc.metaspace.maxCapacity']).toBe(Number(reserved) * K);
    const cls = /class space\s+used \d+K, committed (\d+)K, reserved (\d+)K/.exec(heapInfo)!;
    expect(c['sun.gc.compressedclassspace.maxCapacity']).toBe(Number(cls[2]) * K);
    expect(c['sun.gc.compressedclassspace.capacity']).toBe(Number(cls[1]) * K);
  });
  it('refuses what is not hsperfdata, naming what it expected', () => {
    expect(() => parseHsperfdata(Buffer.alloc(10), 'x')).toThrow(/x: expected a 32-byte prologue/);
    expect(() => parseHsperfdata(Buffer.alloc(64), 'x')).toThrow(/expected magic cafec0c0/);
    const cut = file('hsperfdata').subarray(0, 200);
    expect(() => parseHsperfdata(cut, 'x')).toThrow(HeapgapError);
  });
});

describe('recogniseJvm', () => {
  const vmas = parseSmaps(file('smaps').toString('latin1'));
  const base = vmas.map((v, i) => baseCategory(v, [], vmas[i - 1]));
  const counters = parseHsperfdata(file('hsperfdata'));
  const cmdline = file('cmdline').toString().split('\n').filter(Boolean);
  const rssIn = (lo: bigint, hi: bigint) => vmas.filter((v) => v.start >= lo && v.end <= hi).reduce((s, v) => s + v.rss, 0);

  it('finds the heap, class space and code cache where the JVM says they are', () => {
    const r = recogniseJvm({ vmas, base, facts: { cmdline, hsperfdata: { path: 'x', counters } } })!;
    const m = /Heap address: (0x[0-9a-f]+), size: (\d+) MB/.exec(info)!;
    const lo = BigInt(m[1]!);
    const hi = lo + BigInt(Number(m[2]) * 1024 * 1024);
    const heap = r.report.regions.find((g) => g.name === 'java heap')!;
    expect([BigInt(heap.start!), BigInt(heap.end!)]).toEqual([lo, hi]);
    expect(heap.rss).toBe(rssIn(lo, hi));
    expect(heap.committedBytes).toBe(Number(/total (\d+)K/.exec(heapInfo)![1]) * K);
    const ccs = /Compressed class space mapped at: (0x[0-9a-f]+)-(0x[0-9a-f]+)/.exec(info)!;
    const cls = r.report.regions.find((g) => g.name === 'compressed class space')!;
    expect([cls.start, cls.end]).toEqual([`0x${BigInt(ccs[1]!).toString(16)}`, `0x${BigInt(ccs[2]!).toString(16)}`]);
    const bounds = [...info.matchAll(/bounds \[(0x[0-9a-f]+), (0x[0-9a-f]+), (0x[0-9a-f]+)\]/g)].slice(0, 3).map((x) => [BigInt(x[1]!), BigInt(x[3]!)] as const);
    const code = r.report.regions.find((g) => g.category === 'jvm-code-cache')!;
    expect(BigInt(code.start!)).toBe(bounds.reduce((a, [l]) => (l < a ? l : a), bounds[0]![0]));
    expect(BigInt(code.end!)).toBe(bounds.reduce((a, [, h]) => (h > a ? h : a), 0n));
    expect(code.rss).toBe(bounds.reduce((s, [l, h]) => s + rssIn(l, h), 0));
    // every claim is a whole VMA that nothing else had
    for (const c of r.claims) expect(vmas.some((v) => v.start === c.start && v.end === c.end && v.rss === c.rss)).toBe(true);
  });

  it('without hsperfdata: -Xmx from the command line places the same heap', () => {
    const r = recogniseJvm({ vmas, base, facts: { cmdline, hsperfdata: null } })!;
    const heap = r.report.regions.find((g) => g.name === 'java heap')!;
    expect(heap.start).toBe('0xf0000000');
    expect(heap.usedBytes).toBeNull();
    expect(r.report.notes.join(' ')).toMatch(/no hsperfdata/);
  });

  it('is not a JVM without libjvm.so', () => {
    expect(recogniseJvm({ vmas: vmas.filter((v) => !v.pathname.endsWith('libjvm.so')), base, facts: null })).toBeNull();
  });
});

describe('--jvm-jcmd: ranges from VM.info', () => {
  it('parses heap, class space and each code heap once, and the recogniser uses them', async () => {
    const { parseVmInfo, vmInfoExcerpt } = await import('../../src/runtimes/jvm/vm-info.js');
    const excerpt = vmInfoExcerpt(info);
    expect(excerpt.length).toBeLessThan(2000);
    const r = parseVmInfo(excerpt);
    expect(r.heap).toEqual([0xf0000000n, 0x100000000n]);
    expect(r.codeHeaps).toHaveLength(3);
    expect(r.classSpace?.[1]! - r.classSpace![0]).toBe(1n << 30n);
    const vmas = parseSmaps(file('smaps').toString('latin1'));
    const base = vmas.map((v, i) => baseCategory(v, [], vmas[i - 1]));
    const found = recogniseJvm({ vmas, base, facts: { cmdline: [], hsperfdata: null, jcmdVmInfo: excerpt } })!;
    expect(found.report.notes.join(' ')).toMatch(/jcmd VM.info/);
    expect(found.report.regions.find((g) => g.name === 'java heap')?.source).toBe('jcmd VM.info + hsperfdata');
    expect(found.report.regions.find((g) => g.name === 'compressed class space')?.start).toBe(`0x${r.classSpace![0].toString(16)}`);
  });
});
