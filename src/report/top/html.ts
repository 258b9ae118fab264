import type { TopProcess, TopReport } from '../../types.js';
import { formatBytes as b, printable } from '../format-bytes.js';
import { renderHtml } from '../html.js';
import { topHeader, TOP_FOOTNOTE } from './text.js';

const esc = (text: string | number) => printable(String(text)).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const dash = (n: number | null, f: (x: number) => string = b) => (n === null ? '–' : f(n));

/** A self-contained page (no script, CSP as inspect's) with the ranked table and a bar per process. */
export function renderTopHtml(r: TopReport): string {
  const most = Math.max(1, ...r.processes.map((p) => p.rssBytes));
  const row = (p: TopProcess) => {
    const held = p.heldFreeEstimateBytes ?? 0;
    const bar = `<svg width="160" height="10" role="img" aria-label="held free of rss"><rect width="${(160 * p.rssBytes / most).toFixed(1)}" height="10" fill="#c5cad3"/><rect width="${(160 * held / most).toFixed(1)}" height="10" fill="#d9822b"/></svg>`;
    return `<tr><td>${p.pid}</td><td class="comm">${esc(p.comm)}</td><td>${esc(p.allocator)}</td><td>${b(p.rssBytes)}</td><td>${dash(p.arenas, String)}</td><td>${dash(p.arenaRssBytes)}</td><td>${dash(p.heldFreeEstimateBytes)}</td><td>${bar}</td></tr>`;
  };
  const inspected = r.inspected.map((i) => /<main[^>]*>([\s\S]*)<\/main>/.exec(renderHtml(i))?.[1] ?? '').join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>heapgap top</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:24px;color:#1f2430}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e3e6ec;text-align:right}td.comm,th.comm{text-align:left;font-family:ui-monospace,monospace}.muted{color:#5f6b7a}</style>
</head>
<body>
<main data-schema="heapgap.top/1">
<h1>${esc(topHeader(r))}</h1>
<table><thead><tr><th>pid</th><th class="comm">comm</th><th>allocator</th><th>rss</th><th>arenas</th><th>arena rss</th><th>held free ~</th><th>held free / rss</th></tr></thead>
<tbody>
${r.processes.map(row).join('\n')}
</tbody></table>
<p class="muted">${esc(TOP_FOOTNOTE)}</p>
${r.inspectErrors.map((e) => `<p>inspect ${e.pid} failed: ${esc(e.message)}</p>`).join('\n')}
${inspected}
</main>
</body>
</html>
`;
}
