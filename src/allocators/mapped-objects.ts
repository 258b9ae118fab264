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

export async function openObject(pid: number, object: MappedObject, opts: { symtab?: boolean } = {}): Promise<OpenedObject> {
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
 * For an allocator linked statically into a bigger object (upstream redis: jemalloc with the je_
 * prefix), the span from its first to its last symbol: its objects are linked as one group, so the
 * span covers its static (unnamed) functions too, and no more of the program than lies between.
 */
export function symbolSpan(o: OpenedObject, test: (name: string) => boolean): [bigint, bigint] | null {
  let lo: bigint | null = null;
  let hi: bigint | null = null;
  const text = execRanges(o.image, 0n);
  for (const [name, s] of o.image.symbols) {
    if (s.size === 0 || !test(name) || !text.some(([a, b]) => s.value >= a && s.value < b)) continue;
    if (lo === null || s.value < lo) lo = s.value;
    const end = s.value + BigInt(s.size);
    if (hi === null || end > hi) hi = end;
  }
  return lo === null || hi === null ? null : [o.bias + lo, o.bias + hi];
}
