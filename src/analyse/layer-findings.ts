import { finding } from './findings/index.js';
import type { Finding } from './findings/index.js';
import type { Severity } from '../contract.js';
import type { InspectReport } from '../types.js';
import type { RuntimeRegion } from '../runtimes/types.js';
import { MIB } from '../units.js';

const bySize = (share: number, bytes: number): Severity => (share >= 0.25 && bytes >= 64 * MIB ? 'warn' : 'info');

/** When the runtime and kernel layers' findings fire (their words: runtimes/findings.ts, kernel/findings.ts). */
export function layerFindings(r: InspectReport): Finding[] {
  const out: Finding[] = [];
  const pid = r.target.pid;
  const rss = Math.max(1, r.rss.total);
  const lazy = r.rss.lazyFree ?? 0;
  if (lazy >= MIB) out.push(finding('lazy-free', bySize(lazy / rss, lazy), lazy, { lazyFreeBytes: lazy, share: lazy / rss, rssBytes: r.rss.total }));
  const arenaRows = r.breakdown.filter((b) => b.category === 'arena' || b.category === 'mmap-chunk');
  const thp = arenaRows.reduce((s, b) => s + (b.anonHugePagesBytes ?? 0), 0);
  if (thp >= 2 * MIB) out.push(finding('thp-in-arenas', 'info', thp, { bytes: thp, pid }));
  const swapped = arenaRows.reduce((s, b) => s + (b.swapBytes ?? 0), 0);
  if (swapped >= MIB) out.push(finding('swapped-arena', 'info', swapped, { bytes: swapped }));
  const cg = r.cgroup;
  if (cg && cg.limitBytes !== null && cg.limitBytes > 0 && cg.currentBytes / cg.limitBytes >= 0.8) {
    const used = cg.currentBytes / cg.limitBytes;
    out.push(finding('cgroup-headroom', used >= 0.95 ? 'critical' : 'warn', cg.headroomBytes, { path: cg.path, currentBytes: cg.currentBytes, limitBytes: cg.limitBytes, anonBytes: cg.anonBytes, fileBytes: cg.fileBytes, headroomBytes: cg.headroomBytes ?? 0 }));
  }
  for (const rt of r.runtimes ?? []) {
    const region = (name: string): RuntimeRegion | undefined => rt.regions.find((x) => x.name === name);
    const total = (cat: string) => rt.regions.filter((x) => x.category === cat).reduce((s, x) => s + x.rss, 0);
    if (rt.runtime === 'jvm') {
      const heap = region('java heap');
      if (heap && heap.usedBytes !== null) {
        const idle = heap.rss - heap.usedBytes;
        if (idle >= 32 * MIB && idle >= 0.3 * heap.rss) out.push(finding('jvm-heap-free', bySize(idle / rss, idle), idle, { rssBytes: heap.rss, usedBytes: heap.usedBytes, committedBytes: heap.committedBytes ?? 0, maxBytes: heap.maxBytes ?? 0, pid }));
      }
      const meta = total('jvm-metaspace');
      if (meta >= 128 * MIB) out.push(finding('jvm-metaspace', bySize(meta / rss, meta), meta, { bytes: meta, pid }));
      const code = total('jvm-code-cache');
      if (code >= 64 * MIB) out.push(finding('jvm-code-cache', 'info', code, { bytes: code, pid }));
      const held = r.totals.heldFreeRssBytes;
      if (r.target.allocator === 'glibc' && held >= 16 * MIB) out.push(finding('jvm-native-trim', bySize(held / rss, held), held, { bytes: held, pid }));
    } else if (rt.runtime === 'v8') {
      const v8 = total('v8-heap');
      if (v8 >= 64 * MIB) out.push(finding('v8-heap', bySize(v8 / rss, v8), v8, { bytes: v8, share: v8 / rss }));
    } else if (rt.runtime === 'cpython') {
      const ob = total('python-obmalloc');
      const arenas = rt.regions.find((x) => x.category === 'python-obmalloc');
      if (ob >= 16 * MIB && arenas) out.push(finding('python-obmalloc', bySize(ob / rss, ob), ob, { bytes: ob, arenas: Math.round((arenas.committedBytes ?? arenas.size) / (Number(rt.version?.split('.')[1] ?? 99) >= 10 ? MIB : 256 * 1024)) }));
    }
  }
  return out;
}
