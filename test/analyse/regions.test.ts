// buildRegions / baseCategory: every VMA's Rss lands in exactly one category, claims split VMAs.
import { describe, expect, it } from 'vitest';
import { baseCategory, buildRegions, isShmem } from '../../src/analyse/regions.js';
import type { Claim } from '../../src/analyse/regions.js';
import { analyse } from '../../src/analyse/inspect.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import type { Vma } from '../../src/types.js';
import { fixtureSnapshot } from '../fixture-snapshot.js';
import { CAPTURES, fixture } from '../fixtures.js';

const K = 1024;
function vma(start: number, end: number, o: Partial<Vma> = {}): Vma {
  const size = end - start;
  return { start: BigInt(start), end: BigInt(end), perms: 'rw-p', offset: 0n, dev: '00:00', inode: 0, pathname: '', size, rss: size, pss: 0, anonymous: 0, swap: 0, ...o };
}
const claim = (start: number, end: number, rss: number, category: Claim['category'] = 'arena'): Claim => ({ start: BigInt(start), end: BigInt(end), rss, category });

describe('baseCategory', () => {
  const cat = (o: Partial<Vma>, sps: bigint[] = [], prev?: Vma) => baseCategory(vma(0x10000, 0x20000, o), sps, prev);
  it('names kernel, stack, heap, file and anonymous VMAs by path', () => {
    for (const p of ['[vdso]', '[vvar]', '[vsyscall]', '[vvar_vclock]']) expect(cat({ pathname: p })).toBe('kernel');
    expect(cat({ pathname: '[stack]' })).toBe('stack');
    expect(cat({ pathname: '[stack:1234]' })).toBe('stack');
    expect(cat({ pathname: '[heap]' })).toBe('arena');
    expect(cat({ pathname: '/usr/lib/libc.so.6', inode: 339380, perms: 'r-xp' })).toBe('file');
    expect(cat({ pathname: '/tmp/gone (deleted)' })).toBe('file');
    expect(cat({ inode: 77 })).toBe('file');
    expect(cat({})).toBe('anon-other');
    expect(cat({ pathname: '[anon:v8]' })).toBe('anon-other');
  });
  it('names every kind of shared memory shmem, before file', () => {
    const kinds: Partial<Vma>[] = [
      { pathname: '/dev/shm/pool', inode: 12, perms: 'rw-s' }, { pathname: '/memfd:jit (deleted)', inode: 3 },
      { pathname: '/SYSV0000162e (deleted)', inode: 5, perms: 'rw-s' },
      { pathname: '[anon_shmem:ring]' }, { pathname: '/dev/zero (deleted)', inode: 9, perms: 'rw-s' }, { perms: 'rw-s' },
    ];
    for (const k of kinds) expect([k.pathname, cat(k)]).toEqual([k.pathname, 'shmem']);
    expect(isShmem(vma(0, 4096, { perms: 'rw-s', inode: 4 }))).toBe(false); // a shared file mapping is a file
  });
  it('a stack by a thread\'s stack pointer, or by the guard page below it', () => {
    expect(cat({}, [0x10000n])).toBe('stack');
    expect(cat({}, [0x1ffffn])).toBe('stack');
    expect(cat({}, [0x20000n, 0xffffn])).toBe('anon-other');
    const guard = (o: Partial<Vma> = {}, end = 0x10000) => vma(end - 4096, end, { perms: '---p', rss: 0, ...o });
    expect(cat({}, [], guard())).toBe('stack');
    expect(cat({}, [], vma(0x10000 - 64 * K, 0x10000, { perms: '---p' }))).toBe('stack');
    expect(cat({}, [], vma(0x10000 - 64 * K - 4096, 0x10000, { perms: '---p' }))).toBe('anon-other'); // a reserve, not a guard
    expect(cat({}, [], guard({}, 0xf000))).toBe('anon-other'); // not adjacent
    expect(cat({}, [], guard({ pathname: '/x', inode: 1 }))).toBe('anon-other');
    expect(cat({}, [], guard({ perms: 'r--p' }))).toBe('anon-other');
    expect(cat({ perms: 'r--p' }, [], guard())).toBe('anon-other');
  });
});

describe('buildRegions', () => {
  const sum = (rs: { rss: number }[]) => rs.reduce((s, r) => s + r.rss, 0);
  it('claims split a VMA; the rest keeps the VMA\'s category and what is left of its Rss', () => {
    const v = [vma(0, 0x100000, { rss: 600 * K })];
    const rs = buildRegions(v, [claim(0x80000, 0xa0000, 100 * K, 'mmap-chunk'), claim(0x10000, 0x20000, 64 * K)], []);
    expect(rs.map((r) => [r.category, Number(r.start), Number(r.end), r.rss, r.size, r.vma])).toEqual([
      ['arena', 0x10000, 0x20000, 64 * K, 0x10000, 0],
      ['mmap-chunk', 0x80000, 0xa0000, 100 * K, 0x20000, 0],
      ['anon-other', 0, 0x100000, 436 * K, 0x100000 - 0x30000, 0],
    ]);
  });
  it('a claim covering its VMA takes the VMA\'s Rss; claims never take more than the VMA has', () => {
    expect(buildRegions([vma(0, 0x10000, { rss: 8 * K })], [claim(0, 0x10000, 999 * K)], []).map((r) => [r.category, r.rss])).toEqual([['arena', 8 * K]]);
    const rs = buildRegions([vma(0, 0x10000, { rss: 8 * K })], [claim(0, 0x8000, 6 * K), claim(0x8000, 0xc000, 6 * K)], []);
    expect(rs.map((r) => r.rss)).toEqual([6 * K, 2 * K, 0]);
  });
  it('a claim across two VMAs is cut at the VMA boundary', () => {
    const v = [vma(0, 0x10000, { rss: 16 * K }), vma(0x10000, 0x20000, { rss: 4 * K, perms: '---p' })];
    const rs = buildRegions(v, [claim(0x8000, 0x18000, 12 * K)], []);
    expect(rs.map((r) => [r.category, Number(r.start), Number(r.end), r.vma])).toEqual([
      ['arena', 0x8000, 0x10000, 0], ['anon-other', 0, 0x10000, 0], ['arena', 0x10000, 0x18000, 1], ['anon-other', 0x10000, 0x20000, 1],
    ]);
    expect(sum(rs)).toBe(20 * K);
  });
  it.each(CAPTURES)('%s: regions sum to each VMA\'s Rss exactly; thread heaps are arena', async (name) => {
    const snap = await fixtureSnapshot(name);
    const vmas = parseSmaps(fixture(name, 'smaps'));
    const claims = snap.sections.glibc!.claims.map((c) => ({ ...c, start: BigInt(c.start), end: BigInt(c.end) }));
    const rs = buildRegions(vmas, claims, []);
    vmas.forEach((v, i) => expect(sum(rs.filter((r) => r.vma === i))).toBe(v.rss));
    expect(rs.every((r) => r.rss >= 0 && r.size > 0)).toBe(true);
    for (const c of claims) expect(rs.some((r) => r.start === c.start && r.category === 'arena')).toBe(true);
    const by = Object.fromEntries(analyse(snap).breakdown.map((b) => [b.category, b]));
    expect(by.arena!.rss).toBe(sum(rs.filter((r) => r.category === 'arena')));
    expect(by.stack?.rss ?? 0).toBe(sum(rs.filter((r) => r.category === 'stack')));
  });
  it.each(['jvm-many-threads', 'pinned-threads'])('%s: one stack per thread, found by guard pages alone', (name) => {
    const rs = buildRegions(parseSmaps(fixture(name, 'smaps')), [], []);
    const threads = Number(/^Threads:\s+(\d+)/m.exec(fixture(name, 'status'))![1]);
    expect(new Set(rs.filter((r) => r.category === 'stack').map((r) => r.vma)).size).toBe(threads);
  });
});
