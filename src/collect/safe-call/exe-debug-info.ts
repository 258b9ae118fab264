/**
 * Whether an executable carries DWARF (.debug_info, or .zdebug_info compressed). gdb reads the
 * target's executable with its call-frame information (the thread check unwinds through it), and
 * without --readnever it would also index that DWARF: seconds and gigabytes for a large debug build,
 * some of it waited for inside the stop. Such an executable is not given to gdb at all (frames in it
 * are then unnamed, as after a crash on it). Only the ELF and section headers are read.
 */
import { open } from 'node:fs/promises';

export async function hasDebugInfo(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return false; // gdb cannot read it either: nothing to avoid
  try {
    const read = async (offset: number, length: number) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    };
    const h = await read(0, 64);
    if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return false;
    const shoff = Number(h.readBigUInt64LE(40));
    const [shentsize, shnum, shstrndx] = [h.readUInt16LE(58), h.readUInt16LE(60), h.readUInt16LE(62)];
    if (shoff === 0 || shentsize !== 64 || shnum === 0 || shnum > 65_000 || shstrndx >= shnum) return false;
    const sh = await read(shoff, shentsize * shnum);
    const strs = sh.length >= (shstrndx + 1) * shentsize ? await read(Number(sh.readBigUInt64LE(shstrndx * shentsize + 24)), Math.min(Number(sh.readBigUInt64LE(shstrndx * shentsize + 32)), 1 << 20)) : Buffer.alloc(0);
    for (let o = 0; o + 64 <= sh.length; o += shentsize) {
      const at = sh.readUInt32LE(o);
      const end = strs.indexOf(0, at);
      const name = strs.toString('latin1', at, end < 0 ? strs.length : end);
      if ((name === '.debug_info' || name === '.zdebug_info') && sh.readBigUInt64LE(o + 32) > 0n) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}
