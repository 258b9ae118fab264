import type { AnyReport, DiffReport, ExperimentReport, InspectReport, Pause, TrimReport } from '../types.js';
import { formatBytes as b, formatSignedBytes } from './format-bytes.js';
import { paint } from './style.js';
import { summaryText } from './watch.js';
import type { Style } from './style.js';
import { layerSections } from './layers.js';
import { printable } from './format-bytes.js';

/** The default, human format. Only presentation happens here: every figure comes from the report. */
export function renderText(doc: AnyReport, style: Style = { color: false }): string {
  switch (doc.schema) {
    case 'heapgap.inspect/1':
    case 'heapgap.inspect/2':
      return inspectText(doc, style);
    case 'heapgap.trim/2':
      return trimText(doc, style);
    case 'heapgap.experiment/2':
      return experimentText(doc);
    case 'heapgap.diff/1':
      return diffText(doc);
    case 'heapgap.watch-summary/1':
      return summaryText(doc);
    case 'heapgap.demo/1':
      return [inspectText(doc.before, style), trimText(doc.trim, style), inspectText(doc.after, style)].join('\n');
  }
}

/** What the target felt: every thread stopped, and the one thread that ran heapgap's calls. */
function pauseLine(p: Pause): string {
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(1)} ms`);
  const thread = p.callThreadMs === undefined ? '' : `; the calling thread was busy ${ms(p.callThreadMs)}, while the other threads ran during the calls`;
  return `target stopped ${ms(p.stoppedMs)} (calls ${ms(p.callMs)}${thread})`;
}

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** allocatorStats keys that are byte counts (the rest are counts, settings, versions). */
const BYTE_STATS = /Bytes$|^(allocated|active|resident|mapped|retained|dirty|muzzy|metadata|reserved|committed|peakCommitted|heapSize|pageheapFree|pageheapUnmapped|centralCacheFree|transferCacheFree|threadCacheFree|totalPhysical|segmentRss|currentRss|peakRss|reset|brkRss|anonRss)$/;

const pct = (part: number, whole: number) => (whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '-');

function inspectText(r: InspectReport, s: Style): string {
  const t = r.target;
  const out: string[] = [];
  const others = (t.allocators ?? [t.allocator]).filter((a) => a !== t.allocator);
  const glibc = t.glibcVersion ? (t.allocator === 'glibc' ? ` ${t.glibcVersion}` : ` (glibc ${t.glibcVersion})`) : '';
  out.push(paint(s, 'bold', `heapgap: pid ${t.pid} (${t.comm}), ${t.threads} threads, ${t.cpus} CPUs, ${t.allocator}${glibc}${others.length ? ` + ${others.join(' + ')}` : ''}`));
  out.push(`Rss ${b(r.rss.total)}  (anon ${b(r.rss.anon)}, file ${b(r.rss.file)}, shmem ${b(r.rss.shmem)}; swap ${b(r.rss.swap)}, pss ${b(r.rss.pss)})`);
  const env = Object.entries(t.env).map(([k, v]) => `${k}=${v}`).join(' ');
  if (env) out.push(`allocator environment: ${env}`);
  out.push('', paint(s, 'bold', 'Where the Rss is'));
  out.push(table([['layer', 'rss', 'share', 'mapped', 'vmas'], ...r.breakdown.map((row) => [row.category, b(row.rss), pct(row.rss, r.rss.total), b(row.size), String(row.vmas)])], ['l', 'r', 'r', 'r', 'r']));
  for (const sec of layerSections(r)) {
    out.push('', paint(s, 'bold', sec.title), ...sec.lines.map((l) => `  ${printable(l)}`));
    if (sec.table) out.push(table([sec.table.head, ...sec.table.rows.map((row) => row.map(printable))], sec.table.head.map((_, i) => (sec.table!.right.includes(i) ? 'r' : 'l'))));
  }
  out.push('', paint(s, 'bold', 'Arenas'));
  out.push(table([
    ['arena', 'kind', 'heaps', 'system', 'in use', 'free', 'top', 'rss', 'held free', 'pinned', 'trim ~'],
    ...r.arenas.map((a) => [String(a.index), a.kind ?? a.allocator ?? '', String(a.heaps.length), b(a.systemBytes), b(a.inUseBytes), b(a.freeBytes), b(a.topBytes), b(a.rssBytes), b(a.heldFreeRssBytes), a.pinnedTop === null ? '-' : a.pinnedTop ? 'yes' : 'no', b(a.predictedTrimBytes)]),
    ['all', '', '', b(r.totals.systemBytes), b(r.totals.inUseBytes), b(r.totals.freeBytes), '', b(r.totals.rssBytes), b(r.totals.heldFreeRssBytes), '', b(r.totals.predictedTrimBytes)],
  ], ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r']));
  for (const [name, stats] of Object.entries(r.allocatorStats ?? {})) {
    if (name === 'glibc') continue;
    const shown = Object.entries(stats).filter(([, v]) => v !== null && v !== '');
    out.push(`${name}: ${shown.map(([k, v]) => `${k} ${typeof v === 'number' && BYTE_STATS.test(k) ? b(v) : String(v)}`).join(', ')}`);
  }
  const m = r.arenaMax;
  if (r.arenas.some((a) => (a.allocator ?? 'glibc') === 'glibc')) out.push(`mmapped chunks: ${r.mmapChunks.count} holding ${b(r.mmapChunks.bytes)} (${b(r.mmapChunks.rss)} resident)`);
  if (m.arenas > 0) out.push(`arenas ${m.arenas} / threads ${m.threads} / CPUs ${m.cpus}; glibc's limit ${m.configured ?? m.defaultLimit}${m.configured === null ? ' (8 x CPUs)' : ' (MALLOC_ARENA_MAX)'}`);
  out.push('', paint(s, 'bold', 'Findings'));
  if (r.findings.length === 0) out.push('  none');
  for (const f of r.findings) {
    out.push(`  ${paint(s, f.severity, f.severity.toUpperCase().padEnd(8))} ${f.message}`);
    out.push(`           ${paint(s, 'dim', `-> ${f.hint}`)}`);
  }
  out.push('', pauseLine(r.pause));
  for (const n of r.notes) out.push(paint(s, 'dim', `note: ${n}`));
  return `${out.join('\n')}\n`;
}

function trimText(r: TrimReport, s: Style): string {
  const out = [paint(s, 'bold', `heapgap trim: pid ${r.target.pid} (${r.target.comm}), ${r.allocator === 'glibc' ? `pad ${r.pad}` : r.allocator}${r.dryRun ? ', dry run' : ''}`)];
  if (r.dryRun) {
    out.push(`predicted release: ${b(r.predictedBytes)} (Rss now ${b(r.before.rss.total)})`);
  } else {
    out.push(`Rss ${b(r.before.rss.total)} -> ${b(r.after?.rss.total ?? 0)}: released ${b(r.releasedBytes ?? 0)} (predicted ${b(r.predictedBytes)})`);
    out.push(r.allocator === 'glibc' ? `malloc_trim returned ${r.returned} (1 = something was released; it is not a byte count)` : `${r.allocator}: ${r.call ?? 'release call'} made`);
    if (r.settled) out.push(`after ${(r.settled.afterMs / 1000).toFixed(1)} s: Rss ${b(r.settled.rss.total)} (LazyFree ${b(r.settled.lazyFreeBytes)}, AnonHugePages ${b(r.settled.anonHugePagesBytes)})`);
  }
  out.push('', table([
    ['arena', 'kind', 'rss before', 'rss after', 'released', 'predicted'],
    ...r.arenas.map((a) => [String(a.index), a.kind ?? r.allocator, b(a.beforeRss), a.afterRss === null ? '-' : b(a.afterRss), a.releasedBytes === null ? '-' : formatSignedBytes(a.releasedBytes), b(a.predictedBytes)]),
  ], ['r', 'l', 'r', 'r', 'r', 'r']));
  for (const f of r.findings) out.push(`  ${paint(s, f.severity, f.severity.toUpperCase().padEnd(8))} ${f.message}`, `           ${paint(s, 'dim', `-> ${f.hint}`)}`);
  out.push('', pauseLine(r.pause));
  return `${out.join('\n')}\n`;
}

function experimentText(r: ExperimentReport): string {
  const secs = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
  const withLoad = r.runs.some((run) => run.load);
  const rows = r.runs.map((run) => [String(run.arenaMax), b(run.peakRssBytes), b(run.finalRssBytes), run.savingVsDefault === null ? '-' : `${formatSignedBytes(run.savingVsDefault.peakBytes)} (${(run.savingVsDefault.peakRatio * 100).toFixed(1)}%)`, String(run.arenas ?? '?'), String(run.exitCode ?? '-'), secs(run.wallMs), secs(run.cpuMs),
    ...(withLoad ? [run.load ? `${secs(run.load.wallMs)} (exit ${run.load.exitCode ?? 'killed'})` : '-'] : [])]);
  const head = ['arena max', 'peak rss', 'final rss', 'peak saving', 'arenas', 'exit', 'wall', 'cpu', ...(withLoad ? ['load'] : [])];
  return `heapgap experiment: ${r.command.join(' ')}\n${table([head, ...rows], head.map((_, i) => (i === 0 ? 'l' : 'r')))}\n`;
}

function diffText(r: DiffReport): string {
  const out = [`heapgap diff: pid ${r.before.pid} ${r.before.takenAt} -> pid ${r.after.pid} ${r.after.takenAt}`, `Rss ${b(r.rss.before)} -> ${b(r.rss.after)} (${formatSignedBytes(r.rss.delta)})`, ''];
  out.push(table([['layer', 'before', 'after', 'change'], ...r.breakdown.map((x) => [x.category, b(x.before), b(x.after), formatSignedBytes(x.delta)])], ['l', 'r', 'r', 'r']));
  out.push('', table([['arena', 'rss change', 'in-use change', 'held-free change'], ...r.arenas.map((a) => [a.key, formatSignedBytes(a.rssDelta), formatSignedBytes(a.inUseDelta), formatSignedBytes(a.heldFreeDelta)])], ['l', 'r', 'r', 'r']));
  for (const f of r.findings.appeared) out.push(`+ ${f.severity}: ${f.message}`);
  for (const f of r.findings.resolved) out.push(`- ${f.severity}: ${f.message}`);
  return `${out.join('\n')}\n`;
}
