// libc's ELF as heapgap reads it before attaching (src/collect/elf.ts), against binutils' readelf and
// glibc's own word for its version, on this machine's libc.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseLibcImage } from '../../src/collect/elf.js';

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

/** readelf's .dynsym: defined FUNC, OBJECT and IFUNC symbols, the first of each name (its default version). */
async function readelfSymbols(): Promise<Map<string, { value: bigint; size: number }>> {
  const { stdout } = await execa('readelf', ['-W', '--dyn-syms', LIBC]);
  const out = new Map<string, { value: bigint; size: number }>();
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^\d+:$/.test(f[0]!) || !['FUNC', 'OBJECT', 'IFUNC'].includes(f[3]!)) continue;
    const value = BigInt(`0x${f[1]}`);
    if (value === 0n) continue;
    const name = f[7]!.split('@')[0]!;
    if (!out.has(name)) out.set(name, { value, size: Number(f[2]) });
  }
  return out;
}

describe('parseLibcImage', () => {
  it("every defined function and object of .dynsym, as readelf lists them; the version glibc gives", async () => {
    const image = parseLibcImage(readFileSync(LIBC), LIBC);
    const expected = await readelfSymbols();
    expect(expected.size).toBeGreaterThan(1000);
    expect(new Map([...image.symbols].sort())).toEqual(new Map([...expected].sort()));
    const { stdout } = await execa('getconf', ['GNU_LIBC_VERSION']);
    expect(`glibc ${image.version}`).toBe(stdout.trim());
  });
  it('the same from a buffer that does not start on a 4-byte boundary', () => {
    const file = readFileSync(LIBC);
    const shifted = Buffer.alloc(file.length + 1);
    file.copy(shifted, 1);
    const odd = shifted.subarray(1);
    expect(odd.byteOffset % 4).not.toBe(0);
    const a = parseLibcImage(file, LIBC);
    const b = parseLibcImage(odd, LIBC);
    expect(b.symbols).toEqual(a.symbols);
    expect(b.findString('malloc_info')).toBe(a.findString('malloc_info'));
  });
});
