import { parseRuns } from '../allocators/glibc/page-map.js';
import type { ArenaReport } from '../types.js';
import { formatBytes } from './format-bytes.js';

const FILL = { L: '#4c78a8', R: '#e45756', F: 'url(#hatch)' } as const;
const WORD = { L: 'live chunks', R: 'free, resident', F: 'free, released' } as const;
const GAP = 8;

/**
 * The "pages" lane of an arena: each walked heap drawn to the report's scale (bytes per pixel),
 * its runs of live / free-resident / free-released pages, the top chunk's start as a tick, and a
 * marker on every pinning chunk. Empty when the heaps were not walked.
 */
export function pageMapLane(a: ArenaReport, x0: number, y: number, scale: number, esc: (s: string) => string): string {
  const maps = a.pageMaps ?? [];
  if (maps.length === 0) return '';
  const n = (v: number) => String(Math.round(v * 10) / 10);
  let out = `<text x="0" y="${y + 14}" class="lane">pages</text>`;
  let x = x0;
  for (const m of maps) {
    const start = Number(BigInt(m.start));
    const bytes = m.pages * m.pageSize;
    const width = Math.max(2, bytes * scale);
    const unitPx = (m.unitPages * m.pageSize * width) / bytes;
    const tip = `heap ${m.start}–${m.end}: ${m.livePages} pages with live chunks, ${m.freeResidentPages} free but resident, ${m.freeReleasedPages} free and released`;
    out += `<g class="page-map" data-start="${esc(m.start)}" data-live="${m.livePages}" data-free-resident="${m.freeResidentPages}" data-free-released="${m.freeReleasedPages}"><title>${esc(tip)}</title>`;
    let at = x;
    for (const [c, units] of parseRuns(m.runs)) {
      const w = units * unitPx;
      out += `<rect class="run-${c}" x="${n(at)}" y="${y}" width="${n(Math.max(0.3, w))}" height="20" fill="${FILL[c]}"><title>${esc(`${WORD[c]}: ${formatBytes(units * m.unitPages * m.pageSize)}`)}</title></rect>`;
      at += w;
    }
    if (m.topStart !== null) {
      const tx = x + (Number(BigInt(m.topStart)) - start) * scale;
      out += `<line class="top" x1="${n(tx)}" y1="${y - 2}" x2="${n(tx)}" y2="${y + 22}" stroke="#333" stroke-dasharray="2 2"><title>top chunk from ${esc(m.topStart)}</title></line>`;
    }
    for (const p of a.pinning ?? []) {
      const addr = Number(BigInt(p.address));
      if (addr < start || addr >= start + bytes) continue;
      const px = x + (addr - start) * scale;
      out += `<g class="pin" data-address="${esc(p.address)}"><title>${esc(`pinning chunk ${p.address} (${formatBytes(p.size)}): ${formatBytes(p.freeBelowBytes)} free below it`)}</title>` +
        `<path d="M${n(px - 5)} ${y - 9} L${n(px + 5)} ${y - 9} L${n(px)} ${y - 1} Z" fill="#111"/><line x1="${n(px)}" y1="${y}" x2="${n(px)}" y2="${y + 20}" stroke="#111" stroke-width="1.5"/></g>`;
    }
    out += '</g>';
    x += width + GAP;
  }
  return out;
}
