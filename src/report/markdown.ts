import type {
  AnyReport, DiffReport, ExperimentReport, FindingReport, InspectReport, TargetInfo, TrimReport,
} from '../types.js';
import {
  formatBytes, formatMaybeBytes, formatMs, formatPercent, formatSignedBytes, printable,
} from './format-bytes.js';
import { layerSections } from './layers.js';
import { summaryText } from './watch.js';

/** Markdown (GFM) for pasting into a ticket or a pull request. */
export function renderMarkdown(doc: AnyReport): string {
  const lines = renderBody(doc);
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

function renderBody(doc: AnyReport): string[] {
  switch (doc.schema) {
    case 'heapgap.inspect/1':
    case 'heapgap.inspect/2': return inspect(doc);
    case 'heapgap.trim/2': return trim(doc);
    case 'heapgap.experiment/2': return experiment(doc);
    case 'heapgap.diff/1': return diff(doc);
    case 'heapgap.watch-summary/1': return ['# heapgap watch summary', '', '```', ...summaryText(doc).trimEnd().split('\n'), '```'];
    case 'heapgap.demo/1': return ['# heapgap demo', '', '## Before', ...inspect(doc.before), '', '## Trim', ...trim(doc.trim), '', '## After', ...inspect(doc.after)];
  }
}

/**
 * Everything from the target or from findings is plain text: backslash-escape the punctuation
 * that would start markup, a table cell, a link or raw HTML, and show control characters
 * so a hostile comm cannot end a heading or a row.
 */
function md(text: string): string {
  return printable(text).replace(/[\\`*_[\]<>#|~!&]/g, '\\$&');
}

/** Like md(), but `backticked` spans in findings stay code spans, as their authors meant. */
function mdRich(text: string): string {
  return text.split('`').map((part, i) => (i % 2 === 1 && part !== '' ? `\`${printable(part)}\`` : md(part))).join('');
}

function table(head: string[], rows: string[][], right: number[] = []): string[] {
  const align = head.map((_, i) => (right.includes(i) ? '---:' : '---'));
  return ['', `| ${head.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''];
}

function heading(verb: string, target: TargetInfo): string {
  return `## heapgap ${verb}: ${md(target.comm)} (pid ${target.pid})`;
}

function targetLine(t: TargetInfo): string {
  const env = Object.entries(t.env).map(([k, v]) => `${md(k)}=${md(v)}`);
  const glibc = t.glibcVersion === null ? md(t.allocator) : `glibc ${md(t.glibcVersion)}`;
  return [glibc, `${t.threads} threads`, `${t.cpus} CPUs`, env.length > 0 ? `env: ${env.join(' ')}` : 'no MALLOC\\_ environment']
    .join(' · ');
}

function findingList(findings: FindingReport[], empty = '_No findings._'): string[] {
  if (findings.length === 0) return ['', empty, ''];
  const items = findings.map((f) => {
    const bytes = f.bytes === null ? '' : ` (${formatBytes(f.bytes)})`;
    return `- **${f.severity.toUpperCase()}** ${md(f.kind)}${bytes}: ${mdRich(f.message)}  \n  _Hint:_ ${mdRich(f.hint)}`;
  });
  return ['', ...items, ''];
}

function pauseLine(p: InspectReport['pause']): string {
  return `Target stopped for **${formatMs(p.stoppedMs)}** (attach ${formatMs(p.attachMs)}, call ${formatMs(p.callMs)}).${p.callThreadMs === undefined ? '' : ` The calling thread was busy ${formatMs(p.callThreadMs)}; the other threads ran during the calls.`}`;
}

function inspect(doc: InspectReport): string[] {
  const total = doc.rss.total;
  const breakdown = doc.breakdown.map((b) => [
    md(b.category), formatBytes(b.rss), formatPercent(b.rss, total), formatBytes(b.size), String(b.vmas),
  ]);
  breakdown.push(['**total**', `**${formatBytes(total)}**`, '100%', '', String(doc.breakdown.reduce((s, b) => s + b.vmas, 0))]);
  const arenas = doc.arenas.map((a) => [
    String(a.index), (a.kind ?? a.allocator ?? '') + (a.join === 'inferred' ? ' (inferred)' : ''), String(a.heaps.length),
    formatBytes(a.systemBytes), formatBytes(a.inUseBytes), formatBytes(a.freeBytes), formatBytes(a.rssBytes),
    formatBytes(a.heldFreeRssBytes), a.pinnedTop === null ? '-' : a.pinnedTop ? '**yes**' : 'no',
  ]);
  const t = doc.totals;
  arenas.push(['**all**', '', String(doc.arenas.reduce((s, a) => s + a.heaps.length, 0)), formatBytes(t.systemBytes),
    formatBytes(t.inUseBytes), formatBytes(t.freeBytes), formatBytes(t.rssBytes), `**${formatBytes(t.heldFreeRssBytes)}**`, '']);
  const m = doc.arenaMax;
  return [
    heading('inspect', doc.target), '', targetLine(doc.target), '',
    `Rss **${formatBytes(total)}** (anon ${formatBytes(doc.rss.anon)}, file ${formatBytes(doc.rss.file)}, ` +
      `shmem ${formatBytes(doc.rss.shmem)}, swap ${formatBytes(doc.rss.swap)}, pss ${formatBytes(doc.rss.pss)}); ` +
      `held free in arenas **${formatBytes(t.heldFreeRssBytes)}** (${formatPercent(t.heldFreeRssBytes, total)}), ` +
      `${doc.target.allocator === 'glibc' ? 'malloc\\_trim' : `${md(doc.target.allocator)}'s release call`} would return about ${formatBytes(t.predictedTrimBytes)}.`,
    '', '### Rss breakdown',
    ...table(['category', 'rss', '% of Rss', 'size', 'VMAs'], breakdown, [1, 2, 3, 4]),
    ...layerSections(doc).flatMap((sec) => [`### ${md(sec.title)}`, ...(sec.lines.length ? ['', ...sec.lines.map(md)] : []), ...(sec.table ? table(sec.table.head, sec.table.rows.map((row) => row.map(md)), sec.table.right) : [''])]),
    '### Arenas',
    ...table(['#', 'kind', 'heaps', 'system', 'in use', 'free', 'rss', 'held-free rss', 'pinned top'], arenas, [0, 2, 3, 4, 5, 6, 7]),
    m.arenas === 0 ? '' : `${m.arenas} arenas for ${m.threads} threads on ${m.cpus} CPUs; limit ${m.configured ?? `${m.defaultLimit} (default)`}. ` +
      `${doc.mmapChunks.count} mmap'd chunks hold ${formatBytes(doc.mmapChunks.bytes)} (${formatBytes(doc.mmapChunks.rss)} resident).`,
    '', '### Findings', ...findingList(doc.findings),
    '### Pause', '', pauseLine(doc.pause),
    ...doc.notes.map((n) => `\n> ${mdRich(n)}`),
    '', `_Taken ${md(doc.takenAt)}._`,
  ];
}

function trim(doc: TrimReport): string[] {
  const rows = doc.arenas.map((a) => [
    String(a.index), a.kind ?? doc.allocator, formatBytes(a.beforeRss), formatMaybeBytes(a.afterRss),
    a.releasedBytes === null ? 'n/a' : formatBytes(a.releasedBytes), formatBytes(a.predictedBytes),
  ]);
  rows.push(['**Rss**', '', formatBytes(doc.before.rss.total), formatMaybeBytes(doc.after?.rss.total ?? null),
    `**${formatMaybeBytes(doc.releasedBytes)}**`, formatBytes(doc.predictedBytes)]);
  const result = doc.dryRun
    ? `Dry run: malloc\\_trim(${doc.pad}) was not called; it is predicted to return **${formatBytes(doc.predictedBytes)}**.`
    : `malloc\\_trim(${doc.pad}) returned ${doc.returned}; Rss went from ${formatBytes(doc.before.rss.total)} to ` +
      `${formatMaybeBytes(doc.after?.rss.total ?? null)}: **${formatMaybeBytes(doc.releasedBytes)} released** ` +
      `(predicted ${formatBytes(doc.predictedBytes)}).`;
  return [
    heading('trim', doc.target), '', targetLine(doc.target), '', result,
    '', '### Arenas', ...table(['#', 'kind', 'rss before', 'rss after', 'released', 'predicted'], rows, [0, 2, 3, 4, 5]),
    '### Findings', ...findingList(doc.findings),
    '### Pause', '', pauseLine(doc.pause),
  ];
}

function experiment(doc: ExperimentReport): string[] {
  const rows = doc.runs.map((r) => [
    String(r.arenaMax), formatBytes(r.peakRssBytes), formatBytes(r.finalRssBytes),
    r.savingVsDefault === null ? '' : formatSignedBytes(-r.savingVsDefault.finalBytes), r.arenas === null ? 'n/a' : String(r.arenas),
    formatMs(r.wallMs), r.exitCode === null ? 'signal' : String(r.exitCode), String(r.repeats),
  ]);
  return [
    `## heapgap experiment: ${md(doc.command.join(' '))}`, '',
    'Each run sets `MALLOC_ARENA_MAX`; Rss change is the final Rss against the default run (negative is a saving).',
    ...table(['MALLOC\\_ARENA\\_MAX', 'peak Rss', 'final Rss', 'vs default', 'arenas', 'wall', 'exit', 'repeats'], rows, [1, 2, 3, 4, 5]),
  ];
}

function diff(doc: DiffReport): string[] {
  const bd = doc.breakdown.map((b) => [md(b.category), formatBytes(b.before), formatBytes(b.after), formatSignedBytes(b.delta)]);
  bd.push(['**total**', formatBytes(doc.rss.before), formatBytes(doc.rss.after), `**${formatSignedBytes(doc.rss.delta)}**`]);
  const arenas = doc.arenas.map((a) => [
    a.index === null ? '' : String(a.index), md(a.key),
    a.before === null ? '_new_' : formatBytes(a.before.rssBytes), a.after === null ? '_gone_' : formatBytes(a.after.rssBytes),
    formatSignedBytes(a.rssDelta), formatSignedBytes(a.inUseDelta), formatSignedBytes(a.heldFreeDelta),
  ]);
  return [
    `## heapgap diff: pid ${doc.before.pid} → pid ${doc.after.pid}`, '',
    `${md(doc.before.takenAt)} → ${md(doc.after.takenAt)}: Rss ${formatBytes(doc.rss.before)} → ${formatBytes(doc.rss.after)} ` +
      `(**${formatSignedBytes(doc.rss.delta)}**).`,
    '', '### Rss breakdown', ...table(['category', 'before', 'after', 'change'], bd, [1, 2, 3]),
    '### Arenas', ...table(['#', 'arena', 'rss before', 'rss after', 'rss', 'in use', 'held-free rss'], arenas, [0, 2, 3, 4, 5, 6]),
    '### Findings that appeared', ...findingList(doc.findings.appeared, '_None._'),
    '### Findings that were resolved', ...findingList(doc.findings.resolved, '_None._'),
  ];
}
