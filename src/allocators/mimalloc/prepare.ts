/** mimalloc's part of the stop, planned before attaching: its API's addresses, its statistics' home, its segments' candidates. */
import { HeapgapError } from '../../errors.js';
import type { Vma } from '../../types.js';
import { hex } from '../../units.js';
import { stopScript } from '../common.js';
import type { StopPlan } from '../../collect/safe-call/types.js';
import type { AllocatorPresence } from '../detect-all.js';
import { addressOf, codeRanges, openObject, symbolRanges } from '../mapped-objects.js';
import { SEGMENT } from './section.js';

const API = {
  processInfo: 'mi_process_info',
  statsPrint: 'mi_stats_print_out',
  collect: 'mi_collect',
  version: 'mi_version',
  optionGet: 'mi_option_get',
  inHeapRegion: 'mi_is_in_heap_region',
} as const;
/** mi_option_t numbers, which moved between releases: only versions heapgap has checked. */
const OPTION_TABLES = [
  { from: 200, to: 210, options: { eager_commit: 3, large_os_pages: 6, page_reset: 11, abandoned_page_decommit: 12, eager_commit_delay: 14, decommit_delay: 15, allow_decommit: 22, segment_decommit_delay: 23, decommit_extend_delay: 24 } },
];
const MAX_CANDIDATES = 256;
/** The library's .data/.bss is read in the stop to find its statistics; a bigger one is not. */
const MAX_DATA = 4 << 20;

export async function prepareMimalloc(pid: number, p: AllocatorPresence, maps: Vma[], fputs: string | null): Promise<StopPlan> {
  const o = await openObject(pid, p.object, { symtab: p.static });
  const addr: Record<string, string> = {};
  for (const name of Object.values(API)) {
    const at = addressOf(o, name);
    if (at) addr[name] = at;
  }
  if (!addr[API.processInfo] || !addr[API.collect]) {
    throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `${p.object.path} has no mi_process_info()/mi_collect()`, { hint: 'heapgap reads mimalloc 1.7 and later through its exported API.' });
  }
  if (fputs) addr.fputs = fputs;
  const rw = o.image.segments.find((s) => (s.flags & 2) !== 0 && s.memsz <= MAX_DATA);
  const own = p.static ? symbolRanges(o, (n) => /^_?mi_/.test(n)) : null;
  return {
    name: 'mimalloc',
    calls: 'mi_process_info',
    script: stopScript('mimalloc'),
    params: {
      addr, ...API, optionTables: OPTION_TABLES,
      dataSegment: rw && !p.static ? [hex(o.bias + rw.vaddr), rw.memsz] : null,
      segmentCandidates: segmentCandidates(maps),
    },
    forbiddenRanges: own ?? codeRanges(o),
  };
}

/** Every 32 MiB-aligned address inside an anonymous read-write mapping (a segment starts at one). */
export function segmentCandidates(maps: Vma[]): string[] {
  const out: string[] = [];
  for (const v of maps) {
    if (v.pathname !== '' || !v.perms.startsWith('rw')) continue;
    for (let a = ((v.start + SEGMENT - 1n) / SEGMENT) * SEGMENT; a < v.end && out.length < MAX_CANDIDATES; a += SEGMENT) out.push(hex(a));
  }
  return out;
}
