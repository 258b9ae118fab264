/**
 * Which allocators serve memory in a process, and which one serves `malloc` itself.
 *
 * - A shared allocator library (libjemalloc, libtcmalloc, libmimalloc) is present when mapped.
 * - A static copy in the executable is found by its API in the executable's symbols: jemalloc by
 *   `<prefix>mallctl` (upstream redis: `je_mallctl`, next to glibc's malloc for its libraries),
 *   tcmalloc by `MallocExtension_GetNumericProperty`, mimalloc by `mi_process_info`.
 * - `malloc` itself: glibc's own GOT slot for malloc (R_X86_64_GLOB_DAT, filled by the loader at
 *   start-up, never lazily) holds the malloc every library calls; the object that address falls in
 *   is the allocator. Read from /proc/PID/mem without stopping anything. Where it cannot be read,
 *   a mapped allocator library is taken to serve malloc (LD_PRELOAD or linked before libc).
 */
import type { Allocator as AllocatorName } from '../types.js';
import { objectAt } from './mapped-objects.js';
import type { MappedObject } from './mapped-objects.js';

export interface AllocatorPresence {
  name: AllocatorName;
  /** The object carrying it: its shared library, or the executable for a static copy. */
  object: MappedObject;
  /** Prefix of a static copy's public names ("je_" for upstream redis's jemalloc), "" otherwise. */
  prefix: string;
  /** Whether it is linked into the executable (its code shares that object with the program's). */
  static: boolean;
}

export interface Detected {
  /** The allocator behind `malloc` (target.allocator). */
  serving: AllocatorName;
  /** Every allocator that serves memory (target.allocators), serving first. */
  present: AllocatorPresence[];
  /** How `serving` was decided, for notes. */
  evidence: string;
}

const LIBRARIES: [RegExp, AllocatorName][] = [
  [/\/libjemalloc[^/]*\.so[^/]*$/, 'jemalloc'],
  [/\/libtcmalloc[^/]*\.so[^/]*$/, 'tcmalloc'],
  [/\/libmimalloc[^/]*\.so[^/]*$/, 'mimalloc'],
];
// glibc's C library is libc.so.6 (libc-2.x.so before 2.34); musl's is libc.so or ld-musl-<arch>.so.1.
const LIBC = /\/libc\.so\.6$|\/libc-[\d.]+\.so$/;
const MUSL = /\/ld-musl-[^/]*\.so[^/]*$|\/libc\.musl[^/]*\.so[^/]*$|\/libc\.so$/;

/** A static allocator in the executable, from its symbol names. */
export function staticAllocators(names: Iterable<string>): { name: AllocatorName; prefix: string }[] {
  const found: { name: AllocatorName; prefix: string }[] = [];
  for (const n of names) {
    const je = /^([A-Za-z0-9]*_?)mallctl$/.exec(n);
    if (je && !found.some((f) => f.name === 'jemalloc')) found.push({ name: 'jemalloc', prefix: je[1]! });
    if (n === 'MallocExtension_GetNumericProperty' && !found.some((f) => f.name === 'tcmalloc')) found.push({ name: 'tcmalloc', prefix: '' });
    if (n === 'mi_process_info' && !found.some((f) => f.name === 'mimalloc')) found.push({ name: 'mimalloc', prefix: '' });
  }
  return found;
}

export interface DetectInput {
  objects: MappedObject[];
  /** The executable's object (from /proc/PID/exe), when mapped. */
  exe: MappedObject | null;
  /** Allocators found in the executable's own symbols. */
  inExe: { name: AllocatorName; prefix: string }[];
  /** Where glibc's GOT slot for malloc points, or null when not read. */
  mallocAt: bigint | null;
}

export function detectAllocators(input: DetectInput): Detected {
  const present: AllocatorPresence[] = [];
  for (const o of input.objects) {
    const lib = LIBRARIES.find(([re]) => re.test(o.path));
    if (lib && !present.some((p) => p.name === lib[1])) present.push({ name: lib[1], object: o, prefix: '', static: false });
  }
  if (input.exe) {
    for (const s of input.inExe) if (!present.some((p) => p.name === s.name)) present.push({ name: s.name, object: input.exe, prefix: s.prefix, static: true });
  }
  const libc = input.objects.find((o) => LIBC.test(o.path));
  const musl = input.objects.find((o) => MUSL.test(o.path));
  let serving: AllocatorName;
  let evidence: string;
  const owner = input.mallocAt === null ? null : objectAt(input.objects, input.mallocAt);
  if (owner && libc) {
    const p = present.find((x) => x.object === owner && x.prefix === '');
    serving = owner === libc ? 'glibc' : p ? p.name : owner === input.exe ? 'static' : 'unknown';
    evidence = `glibc's GOT slot for malloc points into ${owner.path}`;
  } else if (present.some((p) => !p.static)) {
    serving = present.find((p) => !p.static)!.name;
    evidence = `${present.find((p) => !p.static)!.object.path} is mapped`;
  } else if (musl) {
    serving = 'musl';
    evidence = musl.path;
  } else if (libc) {
    serving = 'glibc';
    evidence = libc.path;
  } else {
    serving = input.objects.some((o) => /\.so(\.\d+)*$/.test(o.path)) ? 'unknown' : 'static';
    evidence = 'no C library is mapped';
  }
  const ordered = [...present.filter((p) => p.name === serving), ...present.filter((p) => p.name !== serving)];
  // glibc and musl have no object of their own here: their malloc lives in the C library.
  if ((serving === 'glibc' && libc) || (serving === 'musl' && musl)) ordered.unshift({ name: serving, object: (libc ?? musl)!, prefix: '', static: false });
  return { serving, present: ordered, evidence };
}
