// Which allocators a process has, and which serves malloc: the pure rules on made-up maps, and the
// ELF reading they rest on against the real libraries.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectAllocators, staticAllocators } from '../../src/allocators/detect-all.js';
import type { MappedObject } from '../../src/allocators/mapped-objects.js';
import { readElfObject } from '../../src/collect/elf-object.js';
import { LIBS } from '../helpers/alloc-targets.js';

const obj = (path: string, start: bigint, size = 0x100000n): MappedObject => ({ path, inode: 1, base: start, start, end: start + size });
const exe = obj('/usr/bin/redis-server', 0x5000_0000_0000n, 0x800000n);
const libc = obj('/usr/lib/x86_64-linux-gnu/libc.so.6', 0x7f00_0000_0000n);
const je = obj('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', 0x7f10_0000_0000n);
const tc = obj('/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10', 0x7f20_0000_0000n);
const musl = obj('/usr/lib/x86_64-linux-musl/libc.so', 0x7f30_0000_0000n);

describe('detectAllocators', () => {
  it('takes malloc\'s owner from glibc\'s GOT slot: a preloaded jemalloc serves it', () => {
    const d = detectAllocators({ objects: [exe, libc, je], exe, inExe: [], mallocAt: je.start + 0x1000n });
    expect(d.serving).toBe('jemalloc');
    expect(d.present.map((p) => p.name)).toEqual(['jemalloc']);
  });

  it('upstream redis: jemalloc (je_) in the executable for the program, glibc for the libraries', () => {
    const d = detectAllocators({ objects: [exe, libc], exe, inExe: staticAllocators(['je_mallctl', 'main', 'je_malloc']), mallocAt: libc.start + 0x98930n });
    expect(d.serving).toBe('glibc');
    expect(d.present.map((p) => `${p.name}:${p.prefix}:${p.static}`)).toEqual(['glibc::false', 'jemalloc:je_:true']);
  });

  it('a library mapped but not bound to malloc is present, not serving', () => {
    const d = detectAllocators({ objects: [exe, libc, tc], exe, inExe: [], mallocAt: libc.start + 0x98930n });
    expect(d.serving).toBe('glibc');
    expect(d.present.map((p) => p.name)).toEqual(['glibc', 'tcmalloc']);
  });

  it('without the GOT slot (no /proc/PID/mem), a mapped allocator library is taken to serve malloc', () => {
    expect(detectAllocators({ objects: [exe, libc, tc], exe, inExe: [], mallocAt: null }).serving).toBe('tcmalloc');
  });

  it('musl\'s libc.so is musl, not glibc', () => {
    const d = detectAllocators({ objects: [exe, musl], exe, inExe: [], mallocAt: null });
    expect(d.serving).toBe('musl');
  });
});

describe.skipIf(!existsSync(LIBS.jemalloc.path))('readElfObject', () => {
  it('reads a shared object\'s dynsym and glibc\'s load-time GOT slot for malloc', async () => {
    const j = await readElfObject(LIBS.jemalloc.path);
    expect(j.type).toBe('dyn');
    expect(j.symbols.get('mallctl')?.size).toBeGreaterThan(0);
    const c = await readElfObject('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(c.gotSlots.get('malloc')).toBeGreaterThan(0n);
  });
});
