import type { TopArena, TopProcess, TopReport } from '../../types.js';
import { build, bytes, gauge, renderFamily } from '../openmetrics.js';
import type { Family, Labels } from '../openmetrics.js';

/**
 * One exposition for the whole host, for node_exporter's textfile collector. Names are inspect's
 * where the figure means the same (heapgap_process_rss_bytes, heapgap_arena_*_bytes, heapgap_arenas,
 * heapgap_arena_limit, heapgap_threads); the held-free figures here are estimates read without a stop,
 * which heapgap_top_estimate_complete qualifies. `--inspect` results replace top's samples of the
 * same family for the processes inspected, so no series is exported twice.
 */
export function renderTopOpenMetrics(r: TopReport): string {
  const families = merge(topFamilies(r), r);
  return `${families.filter((f) => f.samples.length > 0).map(renderFamily).join('')}# EOF\n`;
}

const who = (p: TopProcess): Labels => ({ pid: String(p.pid), comm: p.comm, allocator: p.allocator });

function topFamilies(r: TopReport): Family[] {
  const ps = r.processes;
  const withArenas = ps.filter((p) => p.arenas !== null);
  const arenas = withArenas.flatMap((p) => p.arenaDetail.map((a) => [p, a] as const));
  const per = (p: TopProcess, a: TopArena): Labels => ({ ...who(p), arena: String(a.index), kind: a.kind });
  const arena = (name: string, help: string, pick: (a: TopArena) => number) => bytes(`arena_${name}`, help, arenas.map(([p, a]) => [per(p, a), pick(a)]));
  const taken = Date.parse(r.takenAt);
  return [
    gauge('top_processes', 'Processes in this heapgap top pass.', [[{}, ps.length]]),
    gauge('top_skipped', 'Processes heapgap top could not read, by reason.', (['unreadable', 'exited', 'kernel'] as const).map((reason) => [{ reason }, r.skipped[reason]])),
    gauge('top_cpus', 'Online CPUs of the host (what glibc sizes its default arena limit by).', [[{}, r.cpus]]),
    gauge('top_duration', 'How long the heapgap top pass took.', [[{}, r.durationMs / 1000]], 'seconds'),
    gauge('top_taken_timestamp', 'When the heapgap top pass started, as a Unix time.', [[{}, Number.isNaN(taken) ? null : taken / 1000]], 'seconds'),
    gauge('target_info', 'Target process identity; always 1.', ps.map((p) => [{ ...who(p), glibc_version: p.glibcVersion ?? '' }, 1])),
    bytes('process_rss', 'Resident set size of the target.', ps.map((p) => [who(p), p.rssBytes])),
    gauge('threads', 'Threads of the target.', ps.map((p) => [who(p), p.threads])),
    bytes('process_arena_rss', 'Resident memory of all malloc arena heaps of the target.', withArenas.map((p) => [who(p), p.arenaRssBytes])),
    bytes('process_held_free_rss', 'Resident memory the arenas hold as free (estimate read without stopping the target).', withArenas.map((p) => [who(p), p.heldFreeEstimateBytes])),
    gauge('top_estimate_complete', '1 if every free list of the target was read to its end, 0 if a read was cut short (held free is then a lower bound).',
      withArenas.map((p) => [who(p), p.arenaDetail.every((a) => a.complete) ? 1 : 0])),
    gauge('arenas', 'Number of malloc arenas.', withArenas.map((p) => [who(p), p.arenas])),
    gauge('arena_limit', 'Arena limit in effect: MALLOC_ARENA_MAX if set, else the glibc default.', ps.map((p) => [who(p), p.arenaLimit])),
    arena('system', 'Memory the arena obtained from the system (system_mem).', (a) => a.systemBytes),
    arena('in_use', 'Bytes in allocated chunks of the arena (estimate: system minus free).', (a) => a.inUseEstimateBytes),
    arena('free', 'Bytes in free chunks of the arena, top chunk included (estimate).', (a) => a.freeEstimateBytes),
    arena('top', 'Size of the arena top chunk.', (a) => a.topBytes),
    arena('rss', 'Resident memory of the arena heaps.', (a) => a.rssBytes),
    arena('held_free_rss', 'Resident memory the arena holds as free (estimate).', (a) => a.heldFreeEstimateBytes),
    gauge('arena_heaps', 'Number of heaps the arena owns.', arenas.map(([p, a]) => [per(p, a), a.heaps])),
  ];
}

/** Inspect's exact families for the processes `--inspect` ran on: same names, their samples win. */
function merge(families: Family[], r: TopReport): Family[] {
  if (r.inspected.length === 0) return families;
  const byName = new Map(families.map((f) => [f.name, f]));
  const inspected = new Set(r.inspected.map((i) => String(i.target.pid)));
  for (const f of families) f.samples = f.samples.filter(([labels]) => labels.pid === undefined || !inspected.has(labels.pid));
  for (const doc of r.inspected) {
    const allocator = doc.target.allocator;
    for (const f of build(doc)) {
      const samples = f.samples.map(([labels, v]): [Labels, number] => [{ ...labels, allocator }, v]);
      const into = byName.get(f.name);
      if (into) into.samples.push(...samples);
      else byName.set(f.name, { ...f, samples });
    }
  }
  return [...byName.values()];
}
