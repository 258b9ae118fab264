import type {
  AnyReport, ArenaReport, DiffReport, ExperimentReport, FindingReport, InspectReport, TargetInfo, TrimReport,
} from '../types.js';
import {
  formatBytes, formatMaybeBytes, formatMs, formatPercent, formatSignedBytes, fraction, printable,
} from './format-bytes.js';
import { layerSections } from './layers.js';
import { pageMapLane } from './page-map-svg.js';
import { summaryText } from './watch.js';

/**
 * One self-contained HTML page: inline CSS and SVG, no script, no external resource, so it can be
 * attached to a ticket and opened offline. The CSP forbids scripts outright: escaping is the
 * defence, the policy is the backstop if escaping ever misses a path.
 */
export function renderHtml(doc: AnyReport): string {
  const [title, body] = page(doc);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<svg width="0" height="0" class="defs" aria-hidden="true"><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c5cad3" stroke-width="2"/></pattern></defs></svg>
<main data-schema="${esc(doc.schema)}">
${body}
</main>
</body>
</html>
`;
}

function page(doc: AnyReport): [string, string] {
  switch (doc.schema) {
    case 'heapgap.inspect/1':
    case 'heapgap.inspect/2': return [`heapgap inspect: ${printable(doc.target.comm)} (pid ${doc.target.pid})`, inspect(doc)];
    case 'heapgap.trim/2': return [`heapgap trim: ${printable(doc.target.comm)} (pid ${doc.target.pid})`, trim(doc)];
    case 'heapgap.watch-summary/1': return [`heapgap watch: pid ${doc.pid}`, `<section id="watch"><h2>Watch summary</h2><pre>${esc(summaryText(doc))}</pre></section>`];
    case 'heapgap.demo/1': return [`heapgap demo: ${printable(doc.before.target.comm)} (pid ${doc.before.target.pid})`,
      `<section id="demo-before"><h2>Before</h2>${inspect(doc.before)}</section><section id="demo-trim"><h2>Trim</h2>${trim(doc.trim)}</section><section id="demo-after"><h2>After</h2>${inspect(doc.after)}</section>`];
    case 'heapgap.experiment/2': return [`heapgap experiment: ${printable(doc.command.join(' '))}`, experiment(doc)];
    case 'heapgap.diff/1': return [`heapgap diff: pid ${doc.before.pid} → ${doc.after.pid}`, diff(doc)];
  }
}

function esc(text: string | number): string {
  return printable(String(text)).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Escaped text where `backticked` spans become <code>, as findings write commands that way. */
function rich(text: string): string {
  return text.split('`').map((part, i) => (i % 2 === 1 ? `<code>${esc(part)}</code>` : esc(part))).join('');
}

const CATEGORY_COLOUR: Record<string, string> = {
  arena: '#4c78a8', 'mmap-chunk': '#72b7b2', 'anon-other': '#b279a2', stack: '#9d755d',
  file: '#bab0ac', shmem: '#54a24b', kernel: '#eeca3b',
  'jvm-heap': '#f58518', 'jvm-metaspace': '#e45756', 'jvm-code-cache': '#ff9da6', 'jvm-other': '#d6a36b',
  'v8-heap': '#59a14f', 'python-obmalloc': '#8cd17d',
};
const W = 1000;
const LANE_X = 64; // room for the lane captions inside the map

/** `label` is the tooltip and the caption; `short` is the caption when the label does not fit. */
interface Seg { bytes: number; fill: string; label: string; short?: string; dark?: boolean }

/** Segments laid end to end from x at `scale` units per byte, labelled where the label fits. */
function stack(segs: Seg[], x: number, y: number, h: number, scale: number): string {
  let out = '';
  for (const s of segs) {
    const w = s.bytes > 0 ? Math.max(1, s.bytes * scale) : 0;
    if (w === 0) continue;
    out += `<rect x="${n(x)}" y="${y}" width="${n(w)}" height="${h}" fill="${s.fill}"><title>${esc(s.label)}</title></rect>`;
    const caption = [s.label, s.short ?? ''].find((c) => c !== '' && c.length * 6.3 + 10 < w);
    if (caption !== undefined) {
      out += `<text x="${n(x + 6)}" y="${y + h / 2 + 4}" class="${s.dark ? 'in dark' : 'in'}">${esc(caption)}</text>`;
    }
    x += w;
  }
  return out;
}

const n = (v: number): string => String(Math.round(v * 10) / 10);
const svg = (h: number, inner: string, label: string): string =>
  `<svg viewBox="0 0 ${W} ${h}" role="img" aria-label="${esc(label)}">${inner}</svg>`;

function header(verb: string, t: TargetInfo, extra: string): string {
  const env = Object.entries(t.env).map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join(' ');
  return `<header><h1>heapgap ${verb} <span class="comm">${esc(t.comm)}</span> <span class="pid">pid ${t.pid}</span></h1>
<p class="meta">${t.glibcVersion === null ? esc(t.allocator) : `glibc ${esc(t.glibcVersion)}`} · ${t.threads} threads · ${t.cpus} CPUs${env ? ` · ${env}` : ''}${extra}</p></header>`;
}

function cards(items: Array<[string, string, string, string?]>): string {
  return `<section class="cards">${items.map(([label, value, sub, cls]) =>
    `<div class="card${cls ? ` ${cls}` : ''}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="sub">${esc(sub)}</div></div>`).join('')}</section>`;
}

function findings(list: FindingReport[], heading = 'Findings', id = 'findings', change?: string): string {
  const items = list.map((f) => `<li class="finding" data-severity="${esc(f.severity)}" data-kind="${esc(f.kind)}"${change ? ` data-change="${change}"` : ''}>
<div class="f-head"><span class="sev">${esc(f.severity)}</span> <strong>${esc(f.kind)}</strong>${f.bytes === null ? '' : ` <span class="bytes">${esc(formatBytes(f.bytes))}</span>`}</div>
<p class="message">${rich(f.message)}</p><p class="hint"><span>Hint</span> ${rich(f.hint)}</p></li>`).join('\n');
  return `<section id="${id}"><h2>${esc(heading)}</h2>${list.length ? `<ol>${items}</ol>` : '<p class="muted">None.</p>'}</section>`;
}

function pause(p: InspectReport['pause']): string {
  return `<p class="pause">Target stopped for <strong>${formatMs(p.stoppedMs)}</strong> (attach ${formatMs(p.attachMs)}, call ${formatMs(p.callMs)}).${p.callThreadMs === undefined ? '' : ` The calling thread was busy ${formatMs(p.callThreadMs)}; the other threads ran during the calls.`}</p>`;
}

function inspect(doc: InspectReport): string {
  const t = doc.totals, total = doc.rss.total;
  const segs = doc.breakdown.map((b) => ({ bytes: b.rss, fill: CATEGORY_COLOUR[b.category] ?? '#999', label: `${b.category} ${formatBytes(b.rss)}`, short: formatBytes(b.rss), dark: b.category === 'file' }));
  const rows = doc.breakdown.map((b) => `<tr><td><i class="sw" style="background:${CATEGORY_COLOUR[b.category] ?? '#999'}"></i>${esc(b.category)}</td><td>${formatBytes(b.rss)}</td><td>${formatPercent(b.rss, total)}</td><td>${formatBytes(b.size)}</td><td>${b.vmas}</td></tr>`);
  const m = doc.arenaMax;
  return `${header('inspect', doc.target, ` · taken ${esc(doc.takenAt)}`)}
${cards([
    ['Rss', formatBytes(total), `anon ${formatBytes(doc.rss.anon)} · file ${formatBytes(doc.rss.file)} · swap ${formatBytes(doc.rss.swap)}`],
    ['Held free in arenas', formatBytes(t.heldFreeRssBytes), `${formatPercent(t.heldFreeRssBytes, total)} of Rss is free memory malloc keeps`, 'alert'],
    ['In use in arenas', formatBytes(t.inUseBytes), `of ${formatBytes(t.systemBytes)} obtained from the system`],
    ['malloc_trim would return', formatBytes(t.predictedTrimBytes), `${m.arenas} arenas · limit ${m.configured ?? `${m.defaultLimit} (default)`}`],
  ])}
<section id="breakdown"><h2>Where the Rss is</h2>${svg(40, stack(segs, 0, 2, 36, W / Math.max(1, total)), 'Rss by category')}
<table><thead><tr><th>category</th><th>rss</th><th>% of Rss</th><th>mapped</th><th>VMAs</th></tr></thead><tbody>${rows.join('')}</tbody>
<tfoot><tr><td>total</td><td>${formatBytes(total)}</td><td>100%</td><td></td><td>${doc.breakdown.reduce((s, b) => s + b.vmas, 0)}</td></tr></tfoot></table>
<p class="muted">${doc.mmapChunks.count} mmap'd chunks: ${formatBytes(doc.mmapChunks.bytes)} mapped, ${formatBytes(doc.mmapChunks.rss)} resident.</p></section>
${layerSections(doc).map((sec) => `<section id="${esc(sec.id)}"><h2>${esc(sec.title)}</h2>${sec.lines.map((l) => `<p>${esc(l)}</p>`).join('')}${sec.table ? `<table><thead><tr>${sec.table.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${sec.table.rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>` : ''}</section>`).join('\n')}
${arenaMap(doc.arenas.filter((a): a is ArenaReport => (a.allocator ?? 'glibc') === 'glibc'))}
${otherArenas(doc)}
${findings(doc.findings)}
<footer>${pause(doc.pause)}${doc.notes.map((x) => `<p class="note">${rich(x)}</p>`).join('')}</footer>`;
}

const GAP = 8;

/** Every arena on one scale, so a 64 MiB thread heap and a 180 MiB [heap] compare by eye. */
/** Arenas of other allocators (jemalloc's, tcmalloc's page heap, mimalloc's segments): their own figures. */
function otherArenas(doc: InspectReport): string {
  const others = doc.arenas.filter((a) => (a.allocator ?? 'glibc') !== 'glibc');
  if (others.length === 0) return '';
  const rows = others.map((a) => `<tr><td>${esc(a.allocator ?? '')} ${a.index}</td><td>${formatBytes(a.inUseBytes)}</td><td>${formatBytes(a.rssBytes)}</td><td>${formatBytes(a.heldFreeRssBytes)}</td><td>${formatBytes(a.purgeableBytes ?? null)}</td></tr>`);
  return `<section id="other-arenas"><h2>Other allocators</h2><table><thead><tr><th>arena</th><th>in use</th><th>rss</th><th>held free</th><th>purgeable</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function arenaMap(arenas: ArenaReport[]): string {
  if (arenas.length === 0) return '';
  const room = W - LANE_X;
  const scale = Math.min(...arenas.map((a) => Math.min(
    (room - GAP * Math.max(0, a.heaps.length - 1)) / Math.max(1, a.heaps.reduce((s, h) => s + h.size, 0)),
    room / Math.max(1, a.systemBytes))));
  const legend = [['#8fa3b8', 'resident'], ['url(#hatch)', 'mapped, not resident'], ['#4c78a8', 'in use (pages: holding live chunks)'], ['#e45756', 'free, still resident'], ['url(#hatch)', 'free, not resident']]
    .map(([fill, label]) => `<span><svg width="14" height="14"><rect width="14" height="14" fill="${fill}" stroke="#c5cad3"/></svg>${label}</span>`).join('');
  const blocks = arenas.map((a) => {
    let x = LANE_X, heaps = '';
    for (const h of a.heaps) {
      const w = Math.max(2, h.size * scale);
      const tip = `heap ${h.start}–${h.end}: ${formatBytes(h.size)} mapped, ${formatBytes(h.rss)} resident (${formatPercent(h.rss, h.size)})`;
      const caption = w > 190 ? `${h.start} · ${formatBytes(h.size)}` : w > 60 ? formatBytes(h.size) : '';
      heaps += `<g class="heap"><title>${esc(tip)}</title><rect x="${n(x)}" y="16" width="${n(w)}" height="20" fill="url(#hatch)" stroke="#aab2bf"/>` +
        `<rect x="${n(x)}" y="16" width="${n(w * fraction(h.rss, h.size))}" height="20" fill="#8fa3b8"/>` +
        (caption ? `<text x="${n(x)}" y="11" class="cap">${esc(caption)}</text>` : '') + '</g>';
      x += w + GAP;
    }
    const malloc = stack([
      { bytes: a.inUseBytes, fill: '#4c78a8', label: `in use ${formatBytes(a.inUseBytes)}`, short: formatBytes(a.inUseBytes) },
      { bytes: a.heldFreeRssBytes, fill: '#e45756', label: `free, resident ${formatBytes(a.heldFreeRssBytes)}`, short: formatBytes(a.heldFreeRssBytes) },
      { bytes: Math.max(0, a.freeBytes - a.heldFreeRssBytes), fill: 'url(#hatch)', label: `free ${formatBytes(Math.max(0, a.freeBytes - a.heldFreeRssBytes))}`, dark: true },
    ], LANE_X, 42, 20, scale);
    const lanes = `<text x="0" y="30" class="lane">heaps</text><text x="0" y="56" class="lane">malloc</text>`;
    const pages = pageMapLane(a, LANE_X, 82, scale, esc);
    const pin = a.pinning?.[0];
    const fig = ([k, v]: [string, string]): string => `<div><dt>${k}</dt><dd>${v}</dd></div>`;
    return `<div class="arena" data-index="${a.index}" data-kind="${a.kind}" data-pinned="${a.pinnedTop}">
<div class="a-head"><h3>Arena ${a.index} <span class="kind">${a.kind}</span></h3>${a.pinnedTop ? '<span class="badge">pinned top</span>' : ''}${a.join === 'inferred' ? '<span class="badge soft">heaps inferred</span>' : ''}<span class="muted">${a.heaps.length} heap${a.heaps.length === 1 ? '' : 's'}${a.address ? ` · malloc_state ${esc(a.address)}` : ''}</span></div>
${svg(pages ? 108 : 66, lanes + heaps + malloc + pages, `arena ${a.index} address-space map`)}${pin ? `<p class="pinning">Pinned by the live chunk at <code>${esc(pin.address)}</code> (${formatBytes(pin.size)}${(a.pinningChunks ?? 1) > 1 ? `, and ${(a.pinningChunks ?? 1) - 1} more live chunk(s) above the free memory` : ''}): ${formatBytes(pin.freeBelowBytes)} free below it, ${formatBytes(a.pinnedResidentBytes ?? 0)} of it resident.</p>` : ''}
<dl>${([['system', formatBytes(a.systemBytes)], ['in use', formatBytes(a.inUseBytes)], ['free', formatBytes(a.freeBytes)], ['rss', formatBytes(a.rssBytes)],
      ['held-free rss', formatBytes(a.heldFreeRssBytes)], ['top', formatBytes(a.topBytes)], ['trim would return', formatBytes(a.predictedTrimBytes)]] as Array<[string, string]>).map(fig).join('')}</dl></div>`;
  });
  return `<section id="arenas"><h2>Arenas, to scale</h2><p class="muted explain">Every bar uses the same bytes per pixel. <b>heaps</b>: each heap the arena owns ([heap], or a heap_info block with its reserve), and how much of it is resident. <b>malloc</b>: the same memory as malloc sees it; red is free memory still resident, the gap Rss cannot drop below without a trim. <b>pages</b>: the heap walked chunk by chunk, page by page; ▼ marks a live chunk that pins the free memory below it, the dashed line the start of the top chunk.</p><p class="legend">${legend}</p>${blocks.join('\n')}</section>`;
}

/** Two bars per row on one scale: before (grey) and after (blue). Used by trim and diff. */
function beforeAfter(rows: Array<{ index: number | null; title: string; before: number | null; after: number | null; note: string }>, missing: string): string {
  const scale = (W - 150 - 70) / Math.max(1, ...rows.flatMap((r) => [r.before ?? 0, r.after ?? 0]));
  return rows.map((r) => {
    const bar = (v: number | null, y: number, fill: string, label: string): string =>
      `<text x="0" y="${y + 13}" class="lane">${label}</text>` + (v === null ? `<text x="150" y="${y + 13}" class="lane">${missing}</text>`
        : `<rect x="150" y="${y}" width="${n(Math.max(1, v * scale))}" height="18" fill="${fill}"/><text x="${n(156 + v * scale)}" y="${y + 13}" class="cap">${formatBytes(v)}</text>`);
    return `<div class="arena" data-index="${r.index ?? ''}"><div class="a-head"><h3>${esc(r.title)}</h3><span class="muted">${esc(r.note)}</span></div>
${svg(44, bar(r.before, 2, '#aab2bf', 'before') + bar(r.after, 24, '#4c78a8', 'after'), `${r.title} before and after`)}</div>`;
  }).join('\n');
}

function trim(doc: TrimReport): string {
  const after = doc.after?.rss.total ?? null;
  return `${header('trim', doc.target, ` · pad ${formatBytes(doc.pad)}${doc.dryRun ? ' · dry run' : ` · malloc_trim returned ${doc.returned}`}`)}
${cards([
    ['Released', formatMaybeBytes(doc.releasedBytes), `measured from smaps; predicted ${formatBytes(doc.predictedBytes)}`, 'good'],
    ['Rss before', formatBytes(doc.before.rss.total), `anon ${formatBytes(doc.before.rss.anon)}`],
    ['Rss after', formatMaybeBytes(after), after === null ? 'not called' : `anon ${formatBytes(doc.after?.rss.anon ?? 0)}`],
  ])}
<section id="arenas"><h2>Arenas: Rss before and after</h2>${beforeAfter(doc.arenas.map((a) => ({
    index: a.index, title: `Arena ${a.index} (${a.kind})`, before: a.beforeRss, after: a.afterRss,
    note: `released ${formatMaybeBytes(a.releasedBytes)} · predicted ${formatBytes(a.predictedBytes)}` })), 'not measured')}</section>
${findings(doc.findings)}
<footer>${pause(doc.pause)}</footer>`;
}

function experiment(doc: ExperimentReport): string {
  const max = Math.max(1, ...doc.runs.map((r) => r.peakRssBytes));
  const scale = (W - 200 - 210) / max;
  const rows = doc.runs.map((r) => `<div class="run" data-arena-max="${esc(r.arenaMax)}">${svg(30,
    `<text x="0" y="19" class="lane">MALLOC_ARENA_MAX=${esc(r.arenaMax)}</text><rect x="200" y="4" width="${n(r.peakRssBytes * scale)}" height="22" fill="#c9d6e6"><title>peak ${formatBytes(r.peakRssBytes)}</title></rect>` +
    `<rect x="200" y="4" width="${n(r.finalRssBytes * scale)}" height="22" fill="#4c78a8"><title>final ${formatBytes(r.finalRssBytes)}</title></rect>` +
    `<text x="${n(206 + r.peakRssBytes * scale)}" y="19" class="cap">${formatBytes(r.finalRssBytes)} final / ${formatBytes(r.peakRssBytes)} peak</text>`, `run ${r.arenaMax}`)}</div>`);
  const table = doc.runs.map((r) => `<tr><td>${esc(r.arenaMax)}</td><td>${formatBytes(r.peakRssBytes)}</td><td>${formatBytes(r.finalRssBytes)}</td><td>${r.savingVsDefault === null ? '' : `${formatSignedBytes(r.savingVsDefault.peakBytes)} (${formatPercent(r.savingVsDefault.peakRatio, 1)})`}</td><td>${r.arenas ?? 'n/a'}</td><td>${formatMs(r.wallMs)}</td><td>${r.exitCode ?? 'signal'}</td><td>${r.repeats}</td></tr>`);
  return `<header><h1>heapgap experiment</h1><p class="meta"><code class="cmd">${esc(doc.command.join(' '))}</code> · ${doc.runs.length} runs, one per MALLOC_ARENA_MAX value</p></header>
<section id="runs"><h2>Rss by MALLOC_ARENA_MAX</h2><p class="legend"><span><i class="sw" style="background:#4c78a8"></i>final</span><span><i class="sw" style="background:#c9d6e6"></i>peak</span></p>${rows.join('\n')}
<table><thead><tr><th>arena max</th><th>peak Rss</th><th>final Rss</th><th>saving vs default</th><th>arenas</th><th>wall</th><th>exit</th><th>repeats</th></tr></thead><tbody>${table.join('')}</tbody></table></section>`;
}

function diff(doc: DiffReport): string {
  const sign = (v: number): string => `<td class="${v > 0 ? 'up' : v < 0 ? 'down' : ''}">${formatSignedBytes(v)}</td>`;
  const rows = doc.breakdown.map((b) => `<tr><td><i class="sw" style="background:${CATEGORY_COLOUR[b.category] ?? '#999'}"></i>${esc(b.category)}</td><td>${formatBytes(b.before)}</td><td>${formatBytes(b.after)}</td>${sign(b.delta)}</tr>`);
  return `<header><h1>heapgap diff <span class="pid">pid ${doc.before.pid} → ${doc.after.pid}</span></h1><p class="meta">${esc(doc.before.takenAt)} → ${esc(doc.after.takenAt)}</p></header>
${cards([['Rss change', formatSignedBytes(doc.rss.delta), `${formatBytes(doc.rss.before)} → ${formatBytes(doc.rss.after)}`, doc.rss.delta > 0 ? 'alert' : 'good']])}
<section id="breakdown"><h2>Rss by category</h2><table><thead><tr><th>category</th><th>before</th><th>after</th><th>change</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>
<section id="arenas"><h2>Arenas: Rss before and after</h2>${beforeAfter(doc.arenas.map((a) => ({
    index: a.index, title: a.index === null ? a.key : `Arena ${a.index} (${a.key})`, before: a.before?.rssBytes ?? null, after: a.after?.rssBytes ?? null,
    note: `rss ${formatSignedBytes(a.rssDelta)} · in use ${formatSignedBytes(a.inUseDelta)} · held free ${formatSignedBytes(a.heldFreeDelta)}` })), 'not present')}</section>
<section id="findings"><h2>Findings</h2>${findings(doc.findings.appeared, 'Appeared', 'findings-appeared', 'appeared')}${findings(doc.findings.resolved, 'Resolved', 'findings-resolved', 'resolved')}</section>`;
}

const CSS = `
:root{color-scheme:light;--ink:#1f2430;--muted:#5f6b7a;--line:#e3e6ec;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:28px 24px 48px}
h1{font-size:24px;margin:0 0 4px;font-weight:650}h2{font-size:18px;margin:0 0 12px}h3{font-size:15px;margin:0}
.comm{font-size:.9em;font-family:ui-monospace,Menlo,Consolas,monospace;background:#e8edf5;padding:1px 8px;border-radius:6px;overflow-wrap:anywhere}
.pid,.muted,.meta{color:var(--muted)}.meta{margin:0 0 20px}.pid{font-weight:400}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;background:#eef1f5;padding:0 4px;border-radius:4px;overflow-wrap:anywhere}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px}
section section{border:0;padding:0;margin:12px 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;background:none;border:0;padding:0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.card .label{color:var(--muted);font-size:13px}.card .value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums}.card .sub{color:var(--muted);font-size:12.5px}
.card.alert{border-color:#f3b4b3;background:#fff6f6}.card.alert .value{color:#c0392b}.card.good .value{color:#2e7d32}
svg{display:block;width:100%;height:auto;font-size:11px;font-family:system-ui,sans-serif}svg.defs{position:absolute}
svg text.in{fill:#fff;font-weight:600}svg text.in.dark,svg text.cap{fill:#2b3240}svg text.lane{fill:var(--muted)}
table{border-collapse:collapse;width:100%;margin-top:12px;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:right}th:first-child,td:first-child{text-align:left}
th{font-weight:600;color:var(--muted);font-size:13px}tfoot td{font-weight:650;border-bottom:0}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:8px;vertical-align:-1px}
.explain{margin:-4px 0 10px;font-size:13.5px}.legend{display:flex;flex-wrap:wrap;gap:16px;margin:0 0 8px;color:var(--muted);font-size:13px}.legend span{display:inline-flex;align-items:center;gap:6px}.legend svg{width:14px}
.arena{padding:12px 0;border-top:1px solid var(--line)}.a-head{display:flex;align-items:baseline;gap:10px;flex-wrap:wrap;margin-bottom:4px}
.kind{color:var(--muted);font-weight:400}.badge{background:#fde2e1;color:#b3261e;font-size:12px;font-weight:600;padding:1px 8px;border-radius:10px}.badge.soft{background:#eef1f5;color:var(--muted)}
dl{display:flex;flex-wrap:wrap;gap:4px 22px;margin:6px 0 0;font-size:13px}dl div{display:flex;gap:6px}dt{color:var(--muted)}dd{margin:0;font-variant-numeric:tabular-nums}
ol{list-style:none;margin:0;padding:0}.finding{border-left:4px solid #1e6fd9;background:#f7f9fc;border-radius:6px;padding:10px 14px;margin:0 0 10px}
.finding[data-severity=warn]{border-color:#ef8f00;background:#fffaf2}.finding[data-severity=critical]{border-color:#c62828;background:#fff5f5}
.sev{text-transform:uppercase;font-size:11.5px;font-weight:700;letter-spacing:.04em;color:#1e6fd9}
.finding[data-severity=warn] .sev{color:#b86e00}.finding[data-severity=critical] .sev{color:#c62828}
.finding .bytes{color:var(--muted);font-variant-numeric:tabular-nums}.finding p{margin:4px 0 0}.hint{color:var(--muted);font-size:14px}.hint span{font-weight:600}
td.up{color:#c0392b}td.down{color:#2e7d32}footer{color:var(--muted);font-size:13.5px;padding:0 4px}footer p{margin:4px 0}
`;
