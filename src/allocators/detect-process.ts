/** The I/O half of detect-all.ts: the executable's symbols and glibc's malloc slot, read before attaching. */
import { readlinkSync } from 'node:fs';
import { ProcMemory } from '../collect/memory.js';
import type { Vma } from '../types.js';
import { detectAllocators, staticAllocators } from './detect-all.js';
import type { Detected } from './detect-all.js';
import { mappedObjects, openObject } from './mapped-objects.js';
import type { MappedObject, OpenedObject } from './mapped-objects.js';

// glibc's C library is libc.so.6 (libc-2.x.so before 2.34); musl's is libc.so or ld-musl-<arch>.so.1.
const LIBC = /\/libc\.so\.6$|\/libc-[\d.]+\.so$/;

export interface ProcessAllocators extends Detected {
  objects: MappedObject[];
  /** The executable, opened with its .symtab (for static allocators), when it could be read. */
  exe: OpenedObject | null;
  notes: string[];
}

export async function detectProcess(pid: number, maps: Vma[]): Promise<ProcessAllocators> {
  const objects = mappedObjects(maps);
  const notes: string[] = [];
  const exePath = exeLink(pid).replace(/ \(deleted\)$/, '');
  const exeObject = objects.find((o) => o.path === exePath) ?? null;
  const exe = exeObject ? await openObject(pid, exeObject, { symtab: true }).catch(() => null) : null;
  if (exeObject && !exe) notes.push(`the executable ${exeObject.path} could not be read: an allocator linked into it statically would not be seen`);
  let mallocAt: bigint | null = null;
  const libcObject = objects.find((o) => LIBC.test(o.path));
  if (libcObject) {
    // only its malloc slot is wanted here: no map of its symbols (readLibcImage builds that)
    const libc = await openObject(pid, libcObject, { symbols: false }).catch(() => null);
    const slot = libc?.image.gotSlots.get('malloc');
    if (libc && slot !== undefined) {
      const memory = await ProcMemory.open(pid);
      try {
        mallocAt = (await memory.read(libc.bias + slot, 8))?.readBigUInt64LE(0) ?? null;
      } finally {
        await memory.close();
      }
    }
    if (mallocAt === null) notes.push('glibc\'s malloc slot could not be read (/proc/PID/mem): the allocator serving malloc was inferred from the libraries mapped');
  }
  // A non-PIE executable that takes malloc's address has a PLT stub as malloc's one address: the
  // slot points into the executable, which still imports malloc from the libraries.
  const stub = exe?.image.pltStubs.get('malloc');
  const mallocViaExePlt = stub !== undefined && mallocAt === exe!.bias + stub;
  const detected = detectAllocators({ objects, exe: exeObject, inExe: exe ? staticAllocators(exe.image.symbols.keys()) : [], mallocAt, mallocViaExePlt });
  return { ...detected, objects, exe, notes };
}

function exeLink(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}
