import type { TopProcess, TopReport } from '../../types.js';
import { formatBytes as b, printable } from '../format-bytes.js';
import { renderMarkdown } from '../markdown.js';
import { topHeader, TOP_FOOTNOTE } from './text.js';

const md = (text: string) => printable(text).replace(/[\\`*_[\]<>#|~!&]/g, '\\$&');
const dash = (n: number | null, f: (x: number) => string = b) => (n === null ? '–' : f(n));
const share = (p: TopProcess) => (p.heldFreeEstimateBytes === null || p.rssBytes === 0 ? '–' : `${((p.heldFreeEstimateBytes / p.rssBytes) * 100).toFixed(1)}%`);

/** GFM: the ranked table, then any `--inspect` reports as inspect renders them. */
export function renderTopMarkdown(r: TopReport): string {
  const lines = [`# ${md(topHeader(r))}`, '', '| pid | comm | allocator | rss | arenas | arena rss | held free ~ | of rss |', '|---:|---|---|---:|---:|---:|---:|---:|'];
  for (const p of r.processes) lines.push(`| ${p.pid} | ${md(p.comm)} | ${p.allocator} | ${b(p.rssBytes)} | ${dash(p.arenas, String)} | ${dash(p.arenaRssBytes)} | ${dash(p.heldFreeEstimateBytes)} | ${share(p)} |`);
  lines.push('', md(TOP_FOOTNOTE));
  for (const e of r.inspectErrors) lines.push('', `inspect ${e.pid} failed: ${md(e.message)}`);
  return [`${lines.join('\n')}\n`, ...r.inspected.map((i) => renderMarkdown(i))].join('\n');
}
