/**
 * jemalloc, analysed from its own figures (mallctl stats.* after an epoch refresh).
 *
 * Held free, split by what `arena.<all>.purge` can do:
 * - purgeable: dirty + muzzy pages (pdirty/pmuzzy x page): freed whole pages not yet returned.
 *   Muzzy pages already had MADV_FREE: they stay in Rss (LazyFree) until the kernel reclaims them.
 * - not purgeable: active - allocated (free slots in partly used slabs, large-allocation padding)
 *   plus tcache_bytes (objects freed into thread caches, which jemalloc counts as allocated).
 *   An upper bound of what is resident: jemalloc counts every page of an active extent.
 * jemalloc's extents are anonymous mappings the kernel merges with other anonymous memory, and
 * there is no safe call that says whether an arbitrary address is jemalloc's (arenas.lookup
 * dereferences its radix tree for unknown pointers): no address range is claimed.
 */
import { gapSeverity, mallocConfVar } from '../common.js';
import type { OtherInput } from '../common.js';
import { finding } from '../../analyse/findings/index.js';
import type { Finding } from '../../analyse/findings/index.js';
import type { OtherArenaReport } from '../../types.js';
import type { AllocatorAnalysis } from '../types.js';
import type { JemallocArenaRaw, JemallocSection } from './section.js';

const MIB = 1024 * 1024;

export function analyseJemalloc(s: JemallocSection, input: OtherInput): AllocatorAnalysis {
  const dirty = s.pdirty * s.page;
  const muzzy = s.pmuzzy * s.page;
  const tcache = s.tcacheBytes ?? 0;
  const purgeable = dirty + muzzy;
  const notPurgeable = Math.max(0, s.active - s.allocated) + tcache;
  const arenas = s.arenas.map((a) => arenaEntry(a, s.page));
  const stats = {
    allocated: s.allocated, active: s.active, resident: s.resident, mapped: s.mapped, retained: s.retained,
    dirty, muzzy, metadata: s.metadata, tcacheBytes: s.tcacheBytes,
    purgeableBytes: purgeable, notPurgeableBytes: notPurgeable, heldFreeBytes: purgeable + notPurgeable,
    page: s.page, narenas: s.narenas, arenasInUse: arenas.length, version: s.version,
    dirtyDecayMs: s.opt.dirtyDecayMs, muzzyDecayMs: s.opt.muzzyDecayMs,
    backgroundThread: s.backgroundThread, optBackgroundThread: s.opt.backgroundThread, optNarenas: s.opt.narenas,
    retain: s.opt.retain, tcache: s.opt.tcache, thp: s.opt.thp, percpuArena: s.opt.percpuArena,
    prefix: s.prefix,
  };
  const notes = [
    `jemalloc (${s.object}${s.prefix ? `, prefix ${s.prefix}` : ''}): its extents are anonymous mappings merged with other anonymous memory, so Rss cannot be split by address; arena Rss is jemalloc's own resident count (stats.arenas.<i>.resident), an upper bound.`,
  ];
  if (s.retained > 0) notes.push(`jemalloc retains ${(s.retained / MIB).toFixed(1)} MiB of address space it unmapped the pages of (opt.retain): virtual size only, not Rss.`);
  if (s.narenas > s.arenasRead) notes.push(`per-arena figures were read for the first ${s.arenasRead} of ${s.narenas} arenas; the totals cover all of them.`);
  return { stats, arenas, claims: [], mmapChunks: null, findings: findings(s, input, { dirty, muzzy, purgeable, notPurgeable, tcache }, arenas), notes };
}

function arenaEntry(a: JemallocArenaRaw, page: number): OtherArenaReport {
  const allocated = a.smallAllocated !== null && a.largeAllocated !== null ? a.smallAllocated + a.largeAllocated : null;
  const active = a.pactive * page;
  const purgeable = (a.pdirty + a.pmuzzy) * page;
  const notPurgeable = allocated === null ? null : Math.max(0, active - allocated) + (a.tcacheBytes ?? 0);
  return {
    index: a.index, allocator: 'jemalloc', kind: null, address: null, heaps: [],
    systemBytes: a.mapped, inUseBytes: allocated, freeBytes: notPurgeable === null ? null : notPurgeable + purgeable,
    fastFreeBytes: null, binFreeBytes: null, topBytes: null,
    rssBytes: a.resident,
    heldFreeRssBytes: notPurgeable === null ? null : notPurgeable + purgeable,
    purgeableBytes: purgeable, notPurgeableBytes: notPurgeable,
    pinnedTop: null, predictedTrimBytes: purgeable, join: 'allocator',
    detail: { threads: a.nthreads, active, dirty: a.pdirty * page, muzzy: a.pmuzzy * page, retained: a.retained, tcacheBytes: a.tcacheBytes },
  };
}

function findings(s: JemallocSection, input: OtherInput, f: { dirty: number; muzzy: number; purgeable: number; notPurgeable: number; tcache: number }, arenas: OtherArenaReport[]): Finding[] {
  const out: Finding[] = [];
  const envVar = mallocConfVar(s.prefix);
  const redis = /^redis-(server|sentinel)|^valkey/.test(input.comm);
  if (f.purgeable >= MIB) {
    out.push(finding('jemalloc-purgeable', gapSeverity(f.purgeable, input.rssTotal), f.purgeable, {
      pid: input.pid, bytes: f.purgeable, share: f.purgeable / Math.max(1, input.rssTotal), dirty: f.dirty, muzzy: f.muzzy,
      dirtyDecayMs: s.opt.dirtyDecayMs, backgroundThread: s.backgroundThread, envVar, redis,
    }));
  }
  if (f.notPurgeable >= 8 * MIB && f.notPurgeable >= 0.1 * s.active) {
    out.push(finding('jemalloc-fragmented', f.notPurgeable >= 64 * MIB ? 'warn' : 'info', f.notPurgeable, {
      bytes: f.notPurgeable, tcache: f.tcache, active: s.active, redis, envVar,
    }));
  }
  const heldFree = f.purgeable + f.notPurgeable;
  if (arenas.length > Math.max(2, input.cpus) && heldFree >= 64 * MIB) {
    out.push(finding('jemalloc-arenas', 'info', null, { arenas: arenas.length, threads: input.threads, cpus: input.cpus, heldFree, envVar }));
  }
  return out;
}
