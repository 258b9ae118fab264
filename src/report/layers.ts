import type { InspectReport } from '../types.js';
import { formatBytes as b, formatMaybeBytes, formatPercent } from './format-bytes.js';

/**
 * The runtime and kernel layers of an inspect report as neutral sections (a few lines and at most
 * one table each), rendered alike by text, markdown and HTML. Reports from before these layers
 * (no runtimes / cgroup / files / rss.uss) give fewer sections, never an error.
 */
export interface LayerSection {
  id: string;
  title: string;
  lines: string[];
  table?: { head: string[]; rows: string[][]; right: number[] };
}

const RUNTIME = new Set(['jvm-heap', 'jvm-metaspace', 'jvm-code-cache', 'jvm-other', 'v8-heap', 'python-obmalloc']);
const ALLOCATOR = new Set(['arena', 'mmap-chunk']);

export function layerSections(r: InspectReport): LayerSection[] {
  const out: LayerSection[] = [];
  const total = r.rss.total;
  const sumOf = (keep: (c: string) => boolean) => r.breakdown.filter((x) => keep(x.category)).reduce((s, x) => s + x.rss, 0);
  const runtime = sumOf((c) => RUNTIME.has(c));
  const allocator = sumOf((c) => ALLOCATOR.has(c));
  const unexplained = sumOf((c) => c === 'anon-other');
  const files = sumOf((c) => c === 'file' || c === 'shmem');
  const share = (n: number) => `${b(n)} (${formatPercent(n, total)})`;
  out.push({
    id: 'layers',
    title: 'Which layer holds the Rss',
    lines: [
      `runtime ${share(runtime)}, allocator ${share(allocator)}, files and shared memory ${share(files)}, stacks ${share(sumOf((c) => c === 'stack'))}, unexplained anonymous ${share(unexplained)}`,
      ...(r.rss.uss !== undefined ? [`kernel: USS ${b(r.rss.uss)} (returned when the process exits), LazyFree ${b(r.rss.lazyFree ?? 0)} (reclaimable now), swap ${b(r.rss.swap)}`] : []),
    ],
  });
  const kernelRows = r.breakdown.filter((x) => x.privateBytes !== undefined);
  if (kernelRows.length > 0 && kernelRows.some((x) => (x.lazyFreeBytes ?? 0) + (x.anonHugePagesBytes ?? 0) + (x.swapBytes ?? 0) > 0)) {
    out.push({
      id: 'kernel-rows',
      title: 'Kernel view per layer',
      lines: [],
      table: { head: ['layer', 'rss', 'private', 'lazy free', 'huge pages', 'swap'], right: [1, 2, 3, 4, 5], rows: kernelRows.map((x) => [x.category, b(x.rss), b(x.privateBytes ?? 0), b(x.lazyFreeBytes ?? 0), b(x.anonHugePagesBytes ?? 0), b(x.swapBytes ?? 0)]) },
    });
  }
  for (const rt of r.runtimes ?? []) {
    out.push({
      id: `runtime-${rt.runtime}`,
      title: `Runtime: ${rt.runtime}${rt.version ? ` ${rt.version}` : ''} (${rt.evidence})`,
      lines: rt.notes,
      table: {
        head: ['region', 'layer', 'rss', 'reserved', 'committed', 'used', 'max', 'runtime figures from'],
        right: [2, 3, 4, 5, 6],
        rows: rt.regions.map((g) => [g.name, g.category, b(g.rss), b(g.size), formatMaybeBytes(g.committedBytes), formatMaybeBytes(g.usedBytes), formatMaybeBytes(g.maxBytes), g.source ?? '-']),
      },
    });
  }
  const cg = r.cgroup;
  if (cg) {
    out.push({
      id: 'cgroup',
      title: `Memory cgroup (v${cg.version}) ${cg.path}`,
      lines: [
        `current ${b(cg.currentBytes)}${cg.peakBytes !== null ? `, peak ${b(cg.peakBytes)}` : ''}, limit ${cg.limitBytes === null ? 'none' : b(cg.limitBytes)}${cg.headroomBytes !== null ? ` (headroom ${b(cg.headroomBytes)})` : ''}`,
        `anon ${b(cg.anonBytes)}, file ${b(cg.fileBytes)}${cg.pressure ? `; pressure avg10 some ${cg.pressure.some10}% full ${cg.pressure.full10}%` : ''}`,
      ],
    });
  }
  if (r.files && r.files.length > 0) {
    out.push({
      id: 'files',
      title: 'Mapped files',
      lines: [],
      table: { head: ['file', 'rss', 'private', 'shared', 'written (anon)'], right: [1, 2, 3, 4], rows: r.files.map((f) => [f.path, b(f.rss), b(f.privateBytes), b(f.sharedBytes), b(f.anonBytes)]) },
    });
  }
  return out;
}
