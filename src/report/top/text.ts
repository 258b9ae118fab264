import type { TopProcess, TopReport } from '../../types.js';
import { formatBytes as b, printable } from '../format-bytes.js';
import { renderText } from '../text.js';
import { paint } from '../style.js';
import type { Style } from '../style.js';

const dash = (n: number | null, f: (x: number) => string = b) => (n === null ? '-' : f(n));
const share = (p: TopProcess) => (p.heldFreeEstimateBytes === null || p.rssBytes === 0 ? '-' : `${((p.heldFreeEstimateBytes / p.rssBytes) * 100).toFixed(1)}%`);

/** The ranked table; `rows` bounds it (the live view fits the terminal). */
export function topTable(r: TopReport, rows = Infinity): string[] {
  const head = ['pid', 'comm', 'allocator', 'rss', 'arenas', 'arena rss', 'held free ~', 'of rss'];
  const body = r.processes.slice(0, rows).map((p) => [String(p.pid), printable(p.comm), p.allocator, b(p.rssBytes), dash(p.arenas, String), dash(p.arenaRssBytes), dash(p.heldFreeEstimateBytes), share(p)]);
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const right = [true, false, false, true, true, true, true, true];
  return all.map((row) => row.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function topHeader(r: TopReport): string {
  const s = r.skipped;
  return `heapgap top: ${r.processes.length < r.processCount ? `${r.processes.length} of ` : ''}${r.processCount} processes${r.cgroup ? ` in ${r.cgroup}` : ''}, read in ${(r.durationMs / 1000).toFixed(2)} s without stopping any (${s.unreadable} unreadable, ${s.exited} exited, ${s.kernel} kernel threads skipped)`;
}

export const TOP_FOOTNOTE = '~ estimates: arena Rss from pagemap minus in-use (system - free lists - top), read from malloc\'s state while the process ran. `heapgap inspect PID` gives exact figures (with a short stop).';

export function renderTopText(r: TopReport, style: Style = { color: false }): string {
  const out = [paint(style, 'bold', topHeader(r)), '', ...topTable(r), '', paint(style, 'dim', TOP_FOOTNOTE)];
  for (const p of r.processes.filter((x) => x.note && x.allocator === 'glibc')) out.push(paint(style, 'dim', `note: ${p.pid} (${printable(p.comm)}): ${p.note}`));
  for (const e of r.inspectErrors) out.push(`inspect ${e.pid} failed: ${e.message}`);
  const text = `${out.join('\n')}\n`;
  return [text, ...r.inspected.map((i) => renderText(i, style))].join('\n');
}
