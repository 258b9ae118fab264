/**
 * The files a process has mapped (executable and shared objects), from /proc/PID/maps, and where a
 * function of one of them is at run time. Allocators are found and called through these.
 */
import { locateLibc } from '../collect/elf.js';
import { execRanges, loadBias, readElfObject } from '../collect/elf-object.js';
import type { ElfObject } from '../collect/elf-object.js';
import type { Vma } from '../types.js';

export interface MappedObject {
  path: string;
  inode: number;
  /** Start of its mapping at file offset 0 (the load base). */
  base: bigint;
  /** Lowest and highest address of its mappings. */
  start: bigint;
  end: bigint;
}

/** Every file-backed object with a mapping at offset 0, in address order. */
export function mappedObjects(maps: Vma[]): MappedObject[] {
  const byPath = new Map<string, MappedObject>();
  for (const v of maps) {
    if (v.inode === 0 || v.pathname === '' || v.pathname.startsWith('[')) continue;
    const path = v.pathname.replace(/ \(deleted\)$/, '');
    const o = byPath.get(path);
    if (!o) {
      if (v.offset === 0n) byPath.set(path, { path, inode: v.inode, base: v.start, start: v.start, end: v.end });
      continue;
    }
    if (v.inode !== o.inode) continue;
    if (v.end > o.end) o.end = v.end;
  }
  return [...byPath.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** The object holding `addr`, if any. */
export function objectAt(objects: MappedObject[], addr: bigint): MappedObject | null {
  return objects.find((o) => addr >= o.start && addr < o.end) ?? null;
}

/** An object opened for resolving: its ELF image and load bias. */
export interface OpenedObject {
  object: MappedObject;
  image: ElfObject;
  bias: bigint;
}

export async function openObject(pid: number, object: MappedObject, opts: { symtab?: boolean; symbols?: boolean } = {}): Promise<OpenedObject> {
  const file = await locateLibc(pid, { path: object.path, start: object.start, end: object.end, inode: object.inode });
  const image = await readElfObject(file, opts);
  return { object, image, bias: loadBias(image, object.base) };
}

/** Absolute address of a symbol as a "0x.." string, or null when the object does not define it. */
export function addressOf(o: OpenedObject, name: string): string | null {
  const sym = o.image.symbols.get(name);
  return sym ? `0x${(o.bias + sym.value).toString(16)}` : null;
}

/** The object's code at run time: a thread stopped in it may be inside the allocator. */
export function codeRanges(o: OpenedObject): [bigint, bigint][] {
  return execRanges(o.image, o.bias);
}

/**
 * The code of a static allocator in an object it shares with the program, as address ranges
 * (adjacent ones merged): the functions whose names pass `test`, their compiler clones
 * (`name.cold`, `name.part.0`), and the static functions listed under the source files that are
 * mostly those (.symtab's STT_FILE groups). Internal functions without the prefix in files of
 * their own are not found: a thread in one has the prefixed caller in its frames. Not
 * one span from its first function to its last: the linker puts .text.startup and .text.unlikely
 * first, so the span would cover the program's main and workers, and the thread check, which sees
 * the program's frames, would then refuse every thread.
 */
export function symbolRanges(o: OpenedObject, test: (name: string) => boolean): [bigint, bigint][] {
  const text = execRanges(o.image, 0n);
  const base = (n: string) => n.replace(/\.(cold|part|constprop|isra|lto_priv|localalias)(\.\d+)*.*$/, '');
  const fns = o.image.functions.length > 0 ? o.image.functions : [...o.image.symbols].map(([name, s]) => ({ name, value: s.value, size: s.size, file: -1 }));
  // A source file counts as the allocator's when a quarter of its static functions pass `test`
  // (the program may have a static je_something of its own; hidden symbols the linker made local
  // are listed together under one unnamed file).
  const perFile = new Map<number, { all: number; own: number }>();
  for (const f of fns) {
    if (f.file < 0) continue;
    const c = perFile.get(f.file) ?? { all: 0, own: 0 };
    c.all += 1;
    if (test(base(f.name))) c.own += 1;
    perFile.set(f.file, c);
  }
  const files = new Set([...perFile].filter(([, c]) => c.own * 4 >= c.all && c.own > 0).map(([file]) => file));
  const found: [bigint, bigint][] = [];
  for (const f of fns) {
    if (f.size === 0 || !text.some(([a, b]) => f.value >= a && f.value < b)) continue;
    if (!test(base(f.name)) && !files.has(f.file)) continue;
    found.push([o.bias + f.value, o.bias + f.value + BigInt(f.size)]);
  }
  found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const r of found) {
    const last = merged[merged.length - 1];
    // functions are aligned to 16 bytes: padding between two of the allocator's own is its own
    if (last && r[0] <= last[1] + 16n) last[1] = last[1] > r[1] ? last[1] : r[1];
    else merged.push([r[0], r[1]]);
  }
  return merged;
}
