/** tcmalloc's part of the stop, planned before attaching: its C API's addresses and its code. */
import { HeapgapError } from '../../errors.js';
import type { Vma } from '../../types.js';
import { hex } from '../../units.js';
import { stopScript } from '../common.js';
import type { StopPlan } from '../../collect/safe-call/types.js';
import type { AllocatorPresence } from '../detect-all.js';
import { addressOf, codeRanges, openObject, symbolRanges } from '../mapped-objects.js';

const API = {
  getProperty: 'MallocExtension_GetNumericProperty',
  getStats: 'MallocExtension_GetStats',
  releaseFreeMemory: 'MallocExtension_ReleaseFreeMemory',
  getOwnership: 'MallocExtension_GetOwnership',
} as const;
/** tcmalloc asks the system for at least 1 MiB at a time (kMinSystemAlloc); smaller mappings are not its page heap. */
const MIN_MAPPING = 1 << 20;

export async function prepareTcmalloc(pid: number, p: AllocatorPresence, maps: Vma[]): Promise<StopPlan> {
  const o = await openObject(pid, p.object, { symtab: p.static });
  const addr: Record<string, string> = {};
  for (const name of Object.values(API)) {
    const at = addressOf(o, name);
    if (at) addr[name] = at;
  }
  if (!addr[API.getProperty] || !addr[API.releaseFreeMemory]) {
    throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `${p.object.path} has no MallocExtension C API`, { hint: 'heapgap reads gperftools tcmalloc through MallocExtension_GetNumericProperty; Google\'s newer tcmalloc has no C API.' });
  }
  const own = p.static ? symbolRanges(o, (n) => /^(MallocExtension|tc_|_ZN8tcmalloc|_ZN\d*(PageHeap|ThreadCache|CentralFreeList|SpinLock))/.test(n)) : null;
  return {
    name: 'tcmalloc',
    calls: 'MallocExtension_GetNumericProperty',
    script: stopScript('tcmalloc'),
    params: { addr, ...API, ownershipCandidates: ownershipCandidates(maps) },
    forbiddenRanges: own ?? codeRanges(o),
  };
}

/** Probe pages per mapping: [heap] gets more (tcmalloc's metadata comes first there). */
const PROBES = { heap: 16, other: 4 } as const;
const MAX_MAPPINGS = 16;
const TC_PAGE = 8192n;

/** [heap] (tcmalloc grows with sbrk first) and the largest anonymous read-write mappings, each with pages to probe. */
export function ownershipCandidates(maps: Vma[]): { start: string; probes: string[] }[] {
  const heap = maps.filter((v) => v.pathname === '[heap]' && v.perms.startsWith('rw'));
  const anon = maps
    .filter((v) => v.pathname === '' && v.perms.startsWith('rw') && v.size >= MIN_MAPPING)
    .sort((a, b) => b.size - a.size)
    .slice(0, MAX_MAPPINGS);
  return [...heap.map((v) => ({ v, n: PROBES.heap })), ...anon.map((v) => ({ v, n: PROBES.other }))].map(({ v, n }) => {
    const pages = (v.end - v.start) / TC_PAGE;
    const probes = new Set<bigint>();
    for (let i = 0n; i < BigInt(n); i++) probes.add(v.start + ((pages * i) / BigInt(n)) * TC_PAGE);
    return { start: hex(v.start), probes: [...probes].map(hex) };
  });
}
