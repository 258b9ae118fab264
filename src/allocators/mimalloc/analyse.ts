/**
 * mimalloc, analysed: reserved/committed (exact from its statistics block where found, else as
 * printed), the Rss of its live segments (address ranges its own segment map confirmed), and
 * what it cannot say: a release build counts no bytes in use, so held-free and purgeable are null
 * (trim measures what mi_collect returns).
 */
import type { OtherInput } from '../common.js';
import { finding } from '../../analyse/findings/index.js';
import type { Finding } from '../../analyse/findings/index.js';
import type { OtherArenaReport } from '../../types.js';
import type { AllocatorAnalysis, Claim } from '../types.js';
import type { MimallocSection } from './section.js';

const MIB = 1024 * 1024;

/** "2.0.9" from 209. */
export function versionText(v: number | null): string | null {
  return v === null ? null : `${Math.floor(v / 100)}.${Math.floor(v / 10) % 10}.${v % 10}`;
}

/** The options that make freed memory go back sooner, by version (2.1 renamed decommit to purge). */
export function purgeEnvLine(v: number | null): string {
  return v !== null && v < 210 ? 'MIMALLOC_DECOMMIT_DELAY=0 MIMALLOC_SEGMENT_DECOMMIT_DELAY=0 (mimalloc 2.0)' : 'MIMALLOC_PURGE_DELAY=0 (mimalloc 2.1 and later; MIMALLOC_ARENA_EAGER_COMMIT=0 commits arenas lazily)';
}

export function analyseMimalloc(s: MimallocSection, input: OtherInput): AllocatorAnalysis {
  const printed = (k: string) => s.printed?.[k]?.current?.value ?? null;
  const reserved = s.block?.reserved.current ?? printed('reserved');
  const claims: Claim[] = s.claims.map((c) => ({ start: BigInt(c.start), end: BigInt(c.end), category: 'arena', rss: c.rss }));
  const segmentRss = claims.reduce((a, c) => a + c.rss, 0);
  const threads = s.block?.threads.current ?? printed('threads');
  const stats = {
    version: versionText(s.version),
    reserved,
    committed: s.processInfo.currentCommit,
    peakCommitted: s.processInfo.peakCommit,
    reset: s.block?.reset.current ?? printed('reset'),
    segments: s.block?.segments.current ?? printed('segments'),
    threads,
    /** mimalloc's own Rss figure (on Linux its estimate is the committed figure). */
    currentRss: s.processInfo.currentRss,
    peakRss: s.processInfo.peakRss,
    pageFaults: s.processInfo.pageFaults,
    segmentRss: s.segmentsChecked ? segmentRss : null,
    exact: s.block !== null,
    purgeableBytes: null,
    heldFreeBytes: null,
    ...Object.fromEntries(Object.entries(s.options ?? {}).map(([k, v]) => [`option.${k}`, v])),
  };
  const arena: OtherArenaReport = {
    index: 0, allocator: 'mimalloc', kind: null, address: null,
    heaps: claims.map((c) => ({ start: `0x${c.start.toString(16)}`, end: `0x${c.end.toString(16)}`, size: Number(c.end - c.start), mappedBytes: Number(c.end - c.start), rss: c.rss, vmas: [] })),
    systemBytes: reserved, inUseBytes: null, freeBytes: null, fastFreeBytes: null, binFreeBytes: null, topBytes: null,
    rssBytes: s.segmentsChecked ? segmentRss : null, heldFreeRssBytes: null, purgeableBytes: null, notPurgeableBytes: null,
    pinnedTop: null, predictedTrimBytes: null, join: s.segmentsChecked ? 'memory' : 'none',
    detail: { committed: s.processInfo.currentCommit, reserved },
  };
  const notes = [
    s.block ? `mimalloc ${versionText(s.version) ?? ''}: reserved, committed, reset, segments and threads read exactly from its statistics block at ${s.block.address}.` : 'mimalloc: reserved, reset, segments and threads are as mi_stats_print_out printed them (rounded to a tenth of their unit); committed is exact (mi_process_info).',
    'mimalloc: a release build counts no bytes in use, so held-free and purgeable are not known before a release; mimalloc keeps one heap per thread and has no call that reaches another thread\'s heap.',
  ];
  return { stats, arenas: [arena], claims, mmapChunks: null, findings: findings(s, input, segmentRss, threads ?? input.threads), notes };
}

function findings(s: MimallocSection, input: OtherInput, segmentRss: number, threads: number): Finding[] {
  const out: Finding[] = [];
  const envLine = purgeEnvLine(s.version);
  if (s.options?.allow_decommit === 0) out.push(finding('mimalloc-no-decommit', 'warn', null, { envLine }));
  if (segmentRss >= 8 * MIB) {
    // info: how much of it is free is not known (see the message), so it is not rated as a gap.
    out.push(finding('mimalloc-segments', 'info', segmentRss, {
      pid: input.pid, rss: segmentRss, share: segmentRss / Math.max(1, input.rssTotal), committed: s.processInfo.currentCommit, threads, envLine,
    }));
  }
  return out;
}
