import { readFileSync, statSync } from 'node:fs';
import { HeapgapError } from '../errors.js';

/** What heapgap needs from the target's libc, read from its ELF file before attaching. */
export interface LibcImage {
  /** Symbol name -> { value (link-time address), size }. Only STT_FUNC/STT_GNU_IFUNC/STT_OBJECT. */
  symbols: Map<string, { value: bigint; size: number }>;
  /** Loadable segments: link-time vaddr, file offset, sizes and flags (PF_X = 1). */
  segments: { vaddr: bigint; offset: number; filesz: number; memsz: number; flags: number }[];
  /** Finds a NUL-terminated byte string inside a read-only loadable segment: its link-time address. */
  findString(text: string): bigint | null;
  /** "2.36" from the library's banner, or null. */
  version: string | null;
}

const PT_LOAD = 1;
const SHT_DYNSYM = 11;

/**
 * The file behind the target's libc mapping, as this process can open it. maps prints paths relative
 * to the reader's root: for a container that is the container's path (open it under /proc/PID/root),
 * for a chroot visible from here it is already a host path, and a deleted (upgraded) libc is only
 * reachable through map_files. The one whose inode matches the mapping wins.
 */
export async function locateLibc(pid: number, libc: { path: string; start: bigint; end: bigint; inode: number }): Promise<string> {
  const range = `${libc.start.toString(16)}-${libc.end.toString(16)}`;
  const candidates = [`/proc/${pid}/root${libc.path}`, libc.path, `/proc/${pid}/map_files/${range}`];
  for (const candidate of candidates) {
    let st: { ino: number } | null = null;
    try {
      st = statSync(candidate);
    } catch {
      // not reachable this way
    }
    if (st && st.ino === libc.inode) return candidate;
  }
  throw new HeapgapError('PTRACE_DENIED', `cannot open the target's libc (${libc.path}, inode ${libc.inode})`, {
    hint: 'heapgap reads libc through /proc/PID/root or /proc/PID/map_files; run it as root or with the target\'s privileges.',
  });
}

export async function readLibcImage(path: string): Promise<LibcImage> {
  let buf: Buffer;
  try {
    // synchronous, as heapgap's other reads before attach: nothing else is waiting on node's loop,
    // and the promise API's round trips through libuv's thread pool were ~2 ms of the path gdb waits on
    buf = readFileSync(path);
  } catch (cause) {
    throw new HeapgapError('GDB_FAILED', `cannot read the target's libc at ${path}`, { cause, hint: 'heapgap reads libc through /proc/PID/root; run it with the same privileges as the target.' });
  }
  return parseLibcImage(buf, path);
}

/**
 * The NUL-terminated name at `offset` in the string table, as the whole file gave it: past the
 * table it is read on from the file, as before (never seen in a real libc).
 */
function symbolName(buf: Buffer, names: string, strOff: number, offset: number): string {
  const end = names.indexOf('\0', offset);
  if (end >= 0) return names.slice(offset, end);
  const fileEnd = buf.indexOf(0, strOff + offset);
  return fileEnd < 0 ? '' : buf.toString('latin1', strOff + offset, fileEnd);
}

/** `len` bytes of `buf` from `off` as 32-bit words (a copy when they are not 4-byte aligned). */
function words(buf: Buffer, off: number, len: number): Uint32Array {
  const n = Math.max(0, Math.floor(len / 4));
  if ((buf.byteOffset + off) % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset + off, n);
  const copy = new Uint8Array(n * 4);
  copy.set(buf.subarray(off, off + n * 4));
  return new Uint32Array(copy.buffer);
}

export function parseLibcImage(buf: Buffer, path = 'libc'): LibcImage {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) {
    throw new HeapgapError('UNSUPPORTED_PLATFORM', `${path} is not a 64-bit little-endian ELF file`);
  }
  const phoff = Number(buf.readBigUInt64LE(32));
  const shoff = Number(buf.readBigUInt64LE(40));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const segments: LibcImage['segments'] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (buf.readUInt32LE(o) !== PT_LOAD) continue;
    segments.push({
      flags: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 8)),
      vaddr: buf.readBigUInt64LE(o + 16),
      filesz: Number(buf.readBigUInt64LE(o + 32)),
      memsz: Number(buf.readBigUInt64LE(o + 40)),
    });
  }
  const symbols = new Map<string, { value: bigint; size: number }>();
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (sh + 64 > buf.length || buf.readUInt32LE(sh + 4) !== SHT_DYNSYM) continue;
    const symOff = Number(buf.readBigUInt64LE(sh + 24));
    const symSize = Number(buf.readBigUInt64LE(sh + 32));
    const strSh = shoff + buf.readUInt32LE(sh + 40) * shentsize;
    const strOff = Number(buf.readBigUInt64LE(strSh + 24));
    const strSize = Number(buf.readBigUInt64LE(strSh + 32));
    // The string table decoded once (latin1: offsets agree): a Buffer.indexOf and toString per
    // name were most of this parse, which runs before gdb can attach.
    const names = buf.toString('latin1', strOff, Math.min(buf.length, strOff + strSize));
    // Elf64_Sym as 32-bit words (x86-64: little-endian, as the header check requires): name,
    // info/other/shndx, value (2 words), size (2 words). Read through Buffer's readBigUInt64LE, one
    // call per field, this loop was 17 ms of a cold start (8 ms this way), before gdb can attach.
    const w = words(buf, symOff, Math.min(symSize, buf.length - symOff));
    for (let k = 0; k + 6 <= w.length; k += 6) {
      const type = w[k + 1]! & 0xf;
      if (type !== 1 && type !== 2 && type !== 10) continue;
      const lo = w[k + 2]!;
      const hi = w[k + 3]!;
      if (lo === 0 && hi === 0) continue;
      const name = symbolName(buf, names, strOff, w[k]!);
      // Keep the default version of a versioned symbol: the first one wins, dynsym lists it first.
      if (!symbols.has(name)) symbols.set(name, { value: hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo), size: w[k + 4]! + w[k + 5]! * 2 ** 32 });
    }
  }
  const readOnly = segments.filter((s) => (s.flags & 2) === 0);
  const findString = (text: string): bigint | null => {
    const needle = Buffer.from(`${text}\0`, 'latin1');
    for (const seg of readOnly) {
      const at = buf.subarray(seg.offset, seg.offset + seg.filesz).indexOf(needle);
      if (at >= 0) return seg.vaddr + BigInt(at);
    }
    return null;
  };
  // latin1: a string needle in node's default encoding takes a slower search (3.5 ms vs 0.4 over
  // glibc 2.36's 1.9 MB, measured), all of it before gdb can attach
  const at = buf.indexOf('release version ', 0, 'latin1');
  const banner = at < 0 ? null : /^release version (\d+\.\d+)/.exec(buf.toString('latin1', at, at + 40));
  return { symbols, segments, findString, version: banner?.[1] ?? null };
}
