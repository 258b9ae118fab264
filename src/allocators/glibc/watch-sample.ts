import { SmapsParser } from '../../parse/smaps.js';
import type { RssSample, Vma } from '../../types.js';
import { ProcMemory } from '../../collect/memory.js';
import { readProcEach } from '../../collect/procfs.js';
import { firstEndingAfter, mmapChunkClaims, verifiedHeaps } from './claims.js';
import type { GlibcSection } from './section.js';
import { stackPointers } from '../../collect/pipeline.js';

/**
 * smaps plus the ar_ptr of every heap block read through /proc/PID/mem. No ptrace stop: heap_info
 * only changes when a heap is created or resized, and a torn read is simply dropped.
 */
export async function sampleRss(pid: number, heapMax: number): Promise<RssSample> {
  const vmas = smapsOf(pid);
  const memory = await ProcMemory.open(pid);
  try {
    const max = BigInt(heapMax);
    const aligned = vmas.filter((v) => v.pathname === '' && v.start % max === 0n).map((v) => v.start);
    const candidates = await verifiedHeaps(aligned, heapMax, memory);
    const owners = new Map<string, { start: bigint; end: bigint }[]>();
    const claims: GlibcSection['claims'] = [];
    for (const base of candidates) {
      const header = await memory.u64pair(base);
      const owner = header ? `0x${header[0].toString(16)}` : 'unknown';
      owners.set(owner, [...(owners.get(owner) ?? []), { start: base, end: base + max }]);
      // smaps is sorted: from the first VMA ending after base, while they start inside the block
      for (let i = firstEndingAfter(vmas, base); i < vmas.length && vmas[i]!.start < base + max; i++) {
        const v = vmas[i]!;
        if (v.start < base || v.end > base + max) continue;
        claims.push({ start: `0x${v.start.toString(16)}`, end: `0x${v.end.toString(16)}`, category: 'arena', rss: v.rss, arena: null });
      }
    }
    claims.push(...(await mmapChunkClaims(vmas, candidates, heapMax, memory)));
    return { takenAt: Date.now(), vmas, claims, owners, stackPointers: await stackPointers(pid) };
  } finally {
    await memory.close();
  }
}

function smapsOf(pid: number): Vma[] {
  const parser = new SmapsParser(`/proc/${pid}/smaps`);
  readProcEach(pid, 'smaps', (chunk) => parser.feed(chunk));
  return parser.end();
}
