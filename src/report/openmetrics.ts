import type {
  AnyReport, DiffReport, ExperimentReport, FindingReport, InspectReport, Severity, TargetInfo, TrimReport,
} from '../types.js';

/**
 * OpenMetrics text for node_exporter's textfile collector or a Pushgateway. Every family is a
 * gauge: a report is one snapshot, and gauges parse the same under the Prometheus 0.0.4 text
 * parser (which node_exporter uses and which reads `# UNIT` and `# EOF` as comments) as under
 * OpenMetrics, whereas counters would need `_total` handled differently by each.
 */
export function renderOpenMetrics(doc: AnyReport): string {
  const families = build(doc).filter((f) => f.samples.length > 0);
  return `${families.map(renderFamily).join('')}# EOF\n`;
}

export type Labels = Record<string, string>;
export interface Family {
  name: string;
  help: string;
  unit?: 'bytes' | 'seconds';
  samples: Array<[Labels, number]>;
}

const SEVERITIES: readonly Severity[] = ['info', 'warn', 'critical'];

export function build(doc: AnyReport): Family[] {
  switch (doc.schema) {
    case 'heapgap.inspect/1':
    case 'heapgap.inspect/2': return inspect(doc);
    case 'heapgap.trim/2': return trim(doc);
    case 'heapgap.experiment/2': return experiment(doc);
    case 'heapgap.diff/1': return diff(doc);
    case 'heapgap.watch-summary/1': return [
      gauge('watch_rss', 'Rss over the watch: first, last, min and max sample.', (['first', 'last', 'min', 'max'] as const).map((k) => [{ pid: String(doc.pid), sample: k }, doc.rss[k]]), 'bytes'),
      gauge('watch_arena_rss', 'Arena Rss over the watch: last and max sample.', doc.arenas.flatMap((a) => [[{ pid: String(doc.pid), arena: a.key, sample: 'last' }, a.last], [{ pid: String(doc.pid), arena: a.key, sample: 'max' }, a.max]] as Array<[Labels, number]>), 'bytes'),
    ];
    // One exposition: the two inspects' families told apart by a phase label, the trim's as they are.
    case 'heapgap.demo/1': return merge([...withLabel(inspect(doc.before), 'phase', 'before'), ...trim(doc.trim), ...withLabel(inspect(doc.after), 'phase', 'after')]);
  }
}

function withLabel(families: Family[], key: string, value: string): Family[] {
  return families.map((f) => ({ ...f, samples: f.samples.map(([l, v]) => [{ [key]: value, ...l }, v] as [Labels, number]) }));
}

/** Families of the same name become one (an exposition names each family once). */
function merge(families: Family[]): Family[] {
  const byName = new Map<string, Family>();
  for (const f of families) {
    const seen = byName.get(f.name);
    if (seen) seen.samples.push(...f.samples);
    else byName.set(f.name, { ...f, samples: [...f.samples] });
  }
  return [...byName.values()];
}

export function gauge(name: string, help: string, samples: Array<[Labels, number | null]>, unit?: Family['unit']): Family {
  // An unknown figure is left out rather than exported as 0, which would read as a measurement.
  const known = samples.filter((s): s is [Labels, number] => s[1] !== null && Number.isFinite(s[1]));
  return { name: `heapgap_${name}${unit === undefined ? '' : `_${unit}`}`, help, samples: known, ...(unit && { unit }) };
}

export function bytes(name: string, help: string, samples: Array<[Labels, number | null]>): Family {
  return gauge(name, help, samples, 'bytes');
}

const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);

function targetLabels(t: TargetInfo): Labels {
  return { pid: String(t.pid), comm: t.comm };
}

function common(t: TargetInfo, findings: FindingReport[], pause: InspectReport['pause']): Family[] {
  const base = targetLabels(t);
  return [
    gauge('target_info', 'Target process identity; always 1.', [
      [{ ...base, allocator: t.allocator, glibc_version: t.glibcVersion ?? '' }, 1]]),
    gauge('findings', 'Findings in this report by severity.', SEVERITIES.map((severity) =>
      [{ ...base, severity }, findings.filter((f) => f.severity === severity).length])),
    gauge('pause_stopped', 'How long the whole target was stopped while heapgap read it.', [[base, seconds(pause.stoppedMs)]], 'seconds'),
    gauge('pause_call_thread', 'How long the thread that ran heapgap\'s calls was taken from the program.', [[base, seconds(pause.callThreadMs ?? null)]], 'seconds'),
    gauge('pause_call', 'How long the call inside the target took.', [[base, seconds(pause.callMs)]], 'seconds'),
    gauge('pause_attach', 'How long attaching to the target took.', [[base, seconds(pause.attachMs)]], 'seconds'),
  ];
}

function inspect(doc: InspectReport): Family[] {
  const base = targetLabels(doc.target);
  // Other allocators' arenas carry their allocator's name (glibc's series keep their labels).
  const per = (a: InspectReport['arenas'][number]): Labels => ({ ...base, arena: String(a.index), kind: a.kind ?? 'none', ...((a.allocator ?? 'glibc') !== 'glibc' ? { allocator: a.allocator! } : {}) });
  const arena = (name: string, help: string, pick: (a: InspectReport['arenas'][number]) => number | null) =>
    bytes(`arena_${name}`, help, doc.arenas.map((a) => [per(a), pick(a)]));
  const taken = Date.parse(doc.takenAt);
  return [
    ...common(doc.target, doc.findings, doc.pause),
    gauge('taken_timestamp', 'When the snapshot was taken, as a Unix time.', [[base, Number.isNaN(taken) ? null : taken / 1000]], 'seconds'),
    bytes('process_rss', 'Resident set size of the target.', [[base, doc.rss.total]]),
    bytes('process_pss', 'Proportional set size of the target.', [[base, doc.rss.pss]]),
    bytes('process_swap', 'Swapped-out memory of the target.', [[base, doc.rss.swap]]),
    bytes('rss', 'Resident memory by category; categories sum to the process Rss.',
      doc.breakdown.map((b) => [{ ...base, category: b.category }, b.rss])),
    bytes('mapped', 'Mapped address space by category.', doc.breakdown.map((b) => [{ ...base, category: b.category }, b.size])),
    gauge('vmas', 'Number of VMAs by category.', doc.breakdown.map((b) => [{ ...base, category: b.category }, b.vmas])),
    arena('system', 'Memory the arena obtained from the system (malloc_info system current).', (a) => a.systemBytes),
    arena('in_use', 'Bytes in allocated chunks of the arena.', (a) => a.inUseBytes),
    arena('free', 'Bytes in free chunks of the arena, top chunk included.', (a) => a.freeBytes),
    arena('top', 'Size of the arena top chunk.', (a) => a.topBytes),
    arena('rss', 'Resident memory of the arena heaps.', (a) => a.rssBytes),
    arena('held_free_rss', 'Resident memory the arena holds as free.', (a) => a.heldFreeRssBytes),
    arena('predicted_trim', 'Resident memory malloc_trim is expected to release from the arena.', (a) => a.predictedTrimBytes),
    gauge('arena_heaps', 'Number of heaps the arena owns ([heap] for the main arena, heap_info blocks for a thread arena).', doc.arenas.map((a) => [per(a), a.heaps.length])),
    arena('purgeable', 'Resident free memory the allocator\'s own release call is expected to return from the arena.', (a) => a.purgeableBytes ?? null),
    gauge('arena_pinned_top', '1 if a live chunk keeps the arena top from being trimmed.', doc.arenas.map((a) => [per(a), a.pinnedTop === null ? null : a.pinnedTop ? 1 : 0])),
    gauge('arenas', 'Number of malloc arenas.', [[base, doc.arenaMax.arenas]]),
    gauge('arena_limit', 'Arena limit in effect: MALLOC_ARENA_MAX if set, else the glibc default.',
      [[base, doc.arenaMax.configured ?? doc.arenaMax.defaultLimit]]),
    gauge('threads', 'Threads of the target.', [[base, doc.arenaMax.threads]]),
    gauge('mmap_chunks', 'Allocations served by mmap outside the arenas.', [[base, doc.mmapChunks.count]]),
    bytes('mmap_chunk', 'Size of allocations served by mmap.', [[base, doc.mmapChunks.bytes]]),
    bytes('mmap_chunk_rss', 'Resident memory of allocations served by mmap.', [[base, doc.mmapChunks.rss]]),
  ];
}

function trim(doc: TrimReport): Family[] {
  const base = targetLabels(doc.target);
  const per = (a: TrimReport['arenas'][number]): Labels => ({ ...base, arena: String(a.index), kind: a.kind ?? 'none', ...(doc.allocator !== 'glibc' ? { allocator: doc.allocator } : {}) });
  return [
    ...common(doc.target, doc.findings, doc.pause),
    bytes('trim_pad', 'Pad passed to malloc_trim.', [[base, doc.pad]]),
    gauge('trim_dry_run', '1 if malloc_trim was not called.', [[base, doc.dryRun ? 1 : 0]]),
    gauge('trim_returned', 'Return value of malloc_trim: 1 if anything was released.', [[base, doc.returned]]),
    bytes('trim_released', 'Process Rss before minus after the trim, measured.', [[base, doc.releasedBytes]]),
    bytes('trim_predicted', 'Resident memory malloc_trim was predicted to release.', [[base, doc.predictedBytes]]),
    bytes('trim_process_rss', 'Process Rss before and after the trim.', [
      [{ ...base, phase: 'before' }, doc.before.rss.total], [{ ...base, phase: 'after' }, doc.after?.rss.total ?? null]]),
    bytes('trim_arena_rss', 'Arena resident memory before and after the trim.', doc.arenas.flatMap((a) => [
      [{ ...per(a), phase: 'before' }, a.beforeRss], [{ ...per(a), phase: 'after' }, a.afterRss]] as Array<[Labels, number | null]>)),
    bytes('trim_arena_released', 'Resident memory the trim released from the arena, measured.',
      doc.arenas.map((a) => [per(a), a.releasedBytes])),
    bytes('trim_arena_predicted', 'Resident memory the trim was predicted to release from the arena.',
      doc.arenas.map((a) => [per(a), a.predictedBytes])),
  ];
}

function experiment(doc: ExperimentReport): Family[] {
  const per = (r: ExperimentReport['runs'][number]): Labels => ({ command: doc.command.join(' '), arena_max: String(r.arenaMax) });
  const run = (name: string, help: string, pick: (r: ExperimentReport['runs'][number]) => number | null, unit?: Family['unit']) =>
    gauge(`experiment_${name}`, help, doc.runs.map((r) => [per(r), pick(r)]), unit);
  return [
    run('peak_rss', 'Peak Rss of the run.', (r) => r.peakRssBytes, 'bytes'),
    run('final_rss', 'Rss of the run just before it exited.', (r) => r.finalRssBytes, 'bytes'),
    run('saving_vs_default', 'Peak Rss of the default run minus this run\'s.', (r) => r.savingVsDefault?.peakBytes ?? null, 'bytes'),
    run('saving_vs_default_final', 'Final Rss of the default run minus this run\'s.', (r) => r.savingVsDefault?.finalBytes ?? null, 'bytes'),
    run('saving_vs_default_peak_ratio', 'Peak Rss saved against the default run, as a fraction of the default run\'s peak.', (r) => r.savingVsDefault?.peakRatio ?? null),
    run('wall', 'Wall-clock time of the run.', (r) => r.wallMs / 1000, 'seconds'),
    run('exit_code', 'Exit code of the run; absent if it was killed by a signal.', (r) => r.exitCode),
    run('arenas', 'Arenas the run ended with.', (r) => r.arenas),
    run('repeats', 'Repeats the figures are taken over.', (r) => r.repeats),
  ];
}

function diff(doc: DiffReport): Family[] {
  const base: Labels = { pid: String(doc.after.pid), before_pid: String(doc.before.pid) };
  const per = (a: DiffReport['arenas'][number]): Labels => ({ ...base, arena: a.index === null ? '' : String(a.index), key: a.key });
  const changes = (['appeared', 'resolved'] as const).flatMap((change) => SEVERITIES.map((severity): [Labels, number] =>
    [{ ...base, change, severity }, doc.findings[change].filter((f) => f.severity === severity).length]));
  return [
    bytes('diff_rss', 'Process Rss in the before and after snapshots.', [
      [{ ...base, side: 'before' }, doc.rss.before], [{ ...base, side: 'after' }, doc.rss.after]]),
    bytes('diff_rss_change', 'Process Rss after minus before.', [[base, doc.rss.delta]]),
    bytes('diff_category_rss_change', 'Resident memory change by category.',
      doc.breakdown.map((b) => [{ ...base, category: b.category }, b.delta])),
    bytes('diff_arena_rss_change', 'Arena resident memory change.', doc.arenas.map((a) => [per(a), a.rssDelta])),
    bytes('diff_arena_in_use_change', 'Arena in-use bytes change.', doc.arenas.map((a) => [per(a), a.inUseDelta])),
    bytes('diff_arena_held_free_rss_change', 'Arena held-free resident memory change.', doc.arenas.map((a) => [per(a), a.heldFreeDelta])),
    gauge('diff_findings', 'Findings that appeared or were resolved, by severity.', changes),
  ];
}

export function renderFamily(f: Family): string {
  const head = [`# TYPE ${f.name} gauge\n`, f.unit ? `# UNIT ${f.name} ${f.unit}\n` : '', `# HELP ${f.name} ${escapeHelp(f.help)}\n`];
  const rows = f.samples.map(([labels, value]) => `${f.name}${renderLabels(labels)} ${renderValue(value)}\n`);
  return head.join('') + rows.join('');
}

function renderLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

// OpenMetrics and the 0.0.4 parser agree on exactly these three escapes in label values.
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

// The 0.0.4 parser rejects `\"` in HELP, so only backslash and newline are escaped here.
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function renderValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
}
