/** jemalloc's part of the stop, planned before attaching: mallctl's address and jemalloc's code. */
import { HeapgapError } from '../../errors.js';
import { stopScript } from '../common.js';
import type { StopPlan } from '../../collect/safe-call/types.js';
import type { AllocatorPresence } from '../detect-all.js';
import { addressOf, codeRanges, openObject, symbolRanges } from '../mapped-objects.js';
import type { OpenedObject } from '../mapped-objects.js';

/** Arenas whose own figures are read (ten calls each); the merged figures always cover them all. */
export const ARENA_LIMIT = 64;

/** jemalloc's public functions, unprefixed. */
const JEMALLOC_API = new Set(['malloc', 'calloc', 'realloc', 'free', 'posix_memalign', 'aligned_alloc', 'memalign', 'valloc', 'pvalloc',
  'malloc_usable_size', 'mallctl', 'mallctlnametomib', 'mallctlbymib', 'malloc_stats_print', 'mallocx', 'rallocx', 'xallocx', 'sallocx',
  'dallocx', 'sdallocx', 'nallocx', 'malloc_message']);

export async function prepareJemalloc(pid: number, p: AllocatorPresence, opened?: OpenedObject): Promise<StopPlan> {
  const o = opened ?? (await openObject(pid, p.object, { symtab: p.static }));
  const name = `${p.prefix}mallctl`;
  const at = addressOf(o, name);
  if (!at) {
    throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `${p.object.path} has no ${name}()`, { hint: 'heapgap reads jemalloc through mallctl; this copy does not export it.' });
  }
  // A static copy shares its object with the program: only jemalloc's own span is off limits.
  // Its internal functions carry the je_ private namespace whatever the public prefix.
  // Linked unprefixed and hidden (--exclude-libs), its public names are local symbols of the program.
  const own = p.static ? symbolRanges(o, (n) => n.startsWith('je_') || (p.prefix !== '' && n.startsWith(p.prefix)) || (p.prefix === '' && JEMALLOC_API.has(n))) : null;
  return {
    name: 'jemalloc',
    calls: 'mallctl',
    script: stopScript('jemalloc'),
    params: { addr: { [name]: at }, mallctl: name, arenaLimit: ARENA_LIMIT },
    forbiddenRanges: own ?? codeRanges(o),
  };
}
