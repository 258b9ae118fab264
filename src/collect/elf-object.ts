/**
 * Any ELF object's symbols, segments and load-time GOT slots, read from its file before attaching
 * (readLibcImage in ./elf.ts, generalised). The file is read piecewise: headers, then only the
 * symbol, string and relocation sections, so a 100 MB executable costs a few reads, not 100 MB.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { HeapgapError } from '../errors.js';

export interface ElfSymbol {
  /** Link-time address (add the load bias for a shared object or PIE). */
  value: bigint;
  size: number;
}

export interface ElfObject {
  path: string;
  /** ET_EXEC (absolute addresses) or ET_DYN (shared object, PIE: addresses are relative to the load bias). */
  type: 'exec' | 'dyn';
  /** Functions and objects by name: .dynsym first (the default version of a versioned name), then .symtab. */
  symbols: Map<string, ElfSymbol>;
  segments: { vaddr: bigint; offset: number; filesz: number; memsz: number; flags: number }[];
  /** GOT slots the loader fills at load time (R_X86_64_GLOB_DAT), by symbol name: link-time address of the slot. */
  gotSlots: Map<string, bigint>;
  /**
   * Canonical PLT entries of a non-PIE executable, by name: an imported function whose address the
   * program takes gets its PLT stub as its one address, and every library's GOT slot points there.
   */
  pltStubs: Map<string, bigint>;
  /**
   * Every function of .symtab (when read), duplicates included, with the source file its local
   * symbols are listed under (STT_FILE): which object of a static link a static function came from.
   */
  functions: ElfFunction[];
}

export interface ElfFunction {
  name: string;
  value: bigint;
  size: number;
  /** Index of the STT_FILE group it is listed under (local symbols only), or -1. */
  file: number;
}

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_DYNSYM = 11;
const R_X86_64_GLOB_DAT = 6;
const ET_EXEC = 2;
/** A symbol table larger than this is not read (a debug build's .symtab can be hundreds of MB). */
const MAX_TABLE = 64 * 1024 * 1024;

/**
 * `symtab`: read .symtab too (static allocators). `symbols: false`: leave `symbols` and `pltStubs`
 * empty, for a caller that wants only GOT slots (inspect reads libc's malloc slot: the map of
 * libc's 3,000 names cost more than everything else here, and readLibcImage builds its own).
 */
export async function readElfObject(path: string, opts: { symtab?: boolean; symbols?: boolean } = {}): Promise<ElfObject> {
  // Synchronous reads: a dozen small ones per file, each a round trip to libuv's thread pool through
  // the promise API, all on the path gdb waits on before it may attach.
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new HeapgapError('PTRACE_DENIED', `cannot read ${path}`, { cause, hint: 'heapgap reads the target\'s libraries through /proc/PID/root or /proc/PID/map_files; run it with the target\'s privileges.' });
  }
  try {
    return await parse(fd, path, opts.symtab ?? false, opts.symbols ?? true);
  } finally {
    closeSync(fd);
  }
}

async function parse(fd: number, path: string, withSymtab: boolean, withSymbols: boolean): Promise<ElfObject> {
  const at = (offset: number, length: number): Buffer => {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, readSync(fd, buf, 0, length, offset));
  };
  const h = at(0, 64);
  if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) {
    throw new HeapgapError('UNSUPPORTED_PLATFORM', `${path} is not a 64-bit little-endian ELF file`);
  }
  const phoff = Number(h.readBigUInt64LE(32));
  const shoff = Number(h.readBigUInt64LE(40));
  const [phentsize, phnum, shentsize, shnum] = [h.readUInt16LE(54), h.readUInt16LE(56), h.readUInt16LE(58), h.readUInt16LE(60)];
  const ph = at(phoff, phentsize * phnum);
  const segments: ElfObject['segments'] = [];
  for (let o = 0; o + 56 <= ph.length; o += phentsize) {
    if (ph.readUInt32LE(o) !== PT_LOAD) continue;
    segments.push({ flags: ph.readUInt32LE(o + 4), offset: Number(ph.readBigUInt64LE(o + 8)), vaddr: ph.readBigUInt64LE(o + 16), filesz: Number(ph.readBigUInt64LE(o + 32)), memsz: Number(ph.readBigUInt64LE(o + 40)) });
  }
  const sh = at(shoff, shentsize * shnum);
  const section = (i: number) => {
    const o = i * shentsize;
    if (o + 64 > sh.length) return null;
    return { type: sh.readUInt32LE(o + 4), offset: Number(sh.readBigUInt64LE(o + 24)), size: Number(sh.readBigUInt64LE(o + 32)), link: sh.readUInt32LE(o + 40) };
  };
  const symbols = new Map<string, ElfSymbol>();
  const pltStubs = new Map<string, bigint>();
  const functions: ElfFunction[] = [];
  const tables = new Map<number, Table>();
  const load = (i: number) => {
    let t = tables.get(i);
    if (t) return t;
    const s = section(i);
    const str = s ? section(s.link) : null;
    if (!s || !str || s.size > MAX_TABLE || str.size > MAX_TABLE) return null;
    t = { syms: at(s.offset, s.size), strs: at(str.offset, str.size), names: null };
    tables.set(i, t);
    return t;
  };
  const gotSlots = new Map<string, bigint>();
  for (const wanted of !withSymbols ? [] : withSymtab ? [SHT_DYNSYM, SHT_SYMTAB] : [SHT_DYNSYM]) {
    for (let i = 0; i < shnum; i++) {
      if (section(i)?.type !== wanted) continue;
      const t = load(i);
      if (t) readSymbols(t, symbols, wanted === SHT_DYNSYM ? pltStubs : null);
      if (t && wanted === SHT_SYMTAB) readFunctions(t, functions);
    }
  }
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s?.type !== SHT_RELA || s.size > MAX_TABLE || section(s.link)?.type !== SHT_DYNSYM) continue;
    const t = load(s.link);
    if (!t) continue;
    const rela = at(s.offset, s.size);
    for (let o = 0; o + 24 <= rela.length; o += 24) {
      const info = rela.readBigUInt64LE(o + 8);
      if (Number(info & 0xffffffffn) !== R_X86_64_GLOB_DAT) continue;
      const name = symbolName(t, Number(info >> 32n));
      if (name && !gotSlots.has(name)) gotSlots.set(name, rela.readBigUInt64LE(o));
    }
  }
  return { path, type: h.readUInt16LE(16) === ET_EXEC ? 'exec' : 'dyn', symbols, segments, gotSlots, pltStubs, functions };
}

/** A symbol table and its string table; `names` is the string table decoded once, when first needed. */
interface Table {
  syms: Buffer;
  strs: Buffer;
  names: string | null;
}

/**
 * The name of symbol `index`. From the string table decoded once (latin1: one char per byte, so
 * offsets agree): a Buffer.indexOf and toString per name were most of reading libc's 3,000.
 */
function symbolName(t: Table, index: number): string | null {
  const s = index * 24;
  if (s + 24 > t.syms.length) return null;
  const start = t.syms.readUInt32LE(s);
  if (start >= t.strs.length) return null;
  t.names ??= t.strs.toString('latin1');
  const end = t.names.indexOf('\0', start);
  return end < 0 ? null : t.names.slice(start, end);
}

function readSymbols(t: Table, into: Map<string, ElfSymbol>, stubs: Map<string, bigint> | null): void {
  for (let s = 0; s + 24 <= t.syms.length; s += 24) {
    const type = t.syms[s + 4]! & 0xf;
    const value = t.syms.readBigUInt64LE(s + 8);
    if (stubs && value !== 0n && type === 2 && t.syms.readUInt16LE(s + 6) === 0) {
      const name = symbolName(t, s / 24)?.replace(/@.*$/, '');
      if (name && !stubs.has(name)) stubs.set(name, value);
      continue;
    }
    // STT_OBJECT, STT_FUNC, STT_GNU_IFUNC with an address; undefined (imported) symbols have none.
    if (value === 0n || (type !== 1 && type !== 2 && type !== 10) || t.syms.readUInt16LE(s + 6) === 0) continue;
    const name = symbolName(t, s / 24);
    // The default version of a versioned name comes first in .dynsym; .dynsym comes before .symtab.
    if (name && !into.has(name)) into.set(name, { value, size: Number(t.syms.readBigUInt64LE(s + 16)) });
  }
}

function readFunctions(t: Table, into: ElfFunction[]): void {
  let file = -1;
  for (let s = 0; s + 24 <= t.syms.length; s += 24) {
    const info = t.syms[s + 4]!;
    const type = info & 0xf;
    if (type === 4) file = s / 24; // STT_FILE: the local symbols after it are that file's
    if (type !== 2 && type !== 10) continue;
    const value = t.syms.readBigUInt64LE(s + 8);
    if (value === 0n || t.syms.readUInt16LE(s + 6) === 0) continue;
    const name = symbolName(t, s / 24);
    // only local symbols are listed under a file; global ones come after every file's
    if (name) into.push({ name, value, size: Number(t.syms.readBigUInt64LE(s + 16)), file: info >> 4 === 0 ? file : -1 });
  }
}

/** The load bias of an object mapped at `base` (its offset-0 mapping): 0 for ET_EXEC. */
export function loadBias(obj: ElfObject, base: bigint): bigint {
  return obj.type === 'exec' ? 0n : base - lowestVaddr(obj);
}

function lowestVaddr(obj: ElfObject): bigint {
  return obj.segments.reduce((m, s) => (s.vaddr < m ? s.vaddr : m), obj.segments[0]?.vaddr ?? 0n) & ~0xfffn;
}

/** Executable segments at their runtime addresses. */
export function execRanges(obj: ElfObject, bias: bigint): [bigint, bigint][] {
  return obj.segments.filter((s) => (s.flags & 1) !== 0).map((s) => [bias + s.vaddr, bias + s.vaddr + BigInt(s.memsz)]);
}
