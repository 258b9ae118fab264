import type { WatchSummary, WatchTick } from '../analyse/watch.js';
import { formatBytes as b, formatSignedBytes } from './format-bytes.js';

const arenaLabel = (a: { key: string; index: number | null }) => (a.key === 'main' ? 'main' : a.index !== null ? `a${a.index}` : a.key);

/** One line per tick, for pipes and logs. */
export function tickLine(t: WatchTick): string {
  const layers = Object.entries(t.layers).map(([k, v]) => `${k}=${b(v)}`).join(' ');
  const arenas = t.arenas.map((a) => `${arenaLabel(a)}=${b(a.rssBytes)}${a.heldFreeRssBytes !== null ? `(free ${b(a.heldFreeRssBytes)})` : ''}`).join(' ');
  return `${t.at.slice(11, 19)} rss=${b(t.rss.total)} ${layers} | ${arenas}${t.mallocInfo ? ` [malloc_info, stopped ${t.stoppedMs?.toFixed(1) ?? '?'} ms]` : ''}\n`;
}

/** The live view on a terminal: the whole screen, redrawn in place. */
export function tickScreen(t: WatchTick, first: WatchTick): string {
  const rows = [`heapgap watch: pid ${t.pid}   ${t.at.slice(11, 19)}   Rss ${b(t.rss.total)} (${formatSignedBytes(t.rss.total - first.rss.total)} since start)`, ''];
  for (const [k, v] of Object.entries(t.layers)) rows.push(`  ${k.padEnd(11)} ${b(v).padStart(10)}`);
  rows.push('', `  ${'arena'.padEnd(16)} ${'rss'.padStart(10)} ${'in use*'.padStart(10)} ${'held free'.padStart(10)}`);
  for (const a of t.arenas) {
    rows.push(`  ${arenaLabel(a).padEnd(16)} ${b(a.rssBytes).padStart(10)} ${(a.inUseBytes === null ? '-' : b(a.inUseBytes)).padStart(10)} ${(a.heldFreeRssBytes === null ? '-' : b(a.heldFreeRssBytes)).padStart(10)}`);
  }
  rows.push('', '  * in use from the latest malloc_info; Rss from smaps every tick (no stop). Ctrl-C ends with a summary.');
  return `\u001b[H\u001b[2J${rows.join('\n')}\n`;
}

export function summaryText(s: WatchSummary): string {
  const rows = [`heapgap watch summary: pid ${s.pid}, ${s.ticks} samples over ${(s.durationMs / 1000).toFixed(1)} s`, `Rss ${b(s.rss.first)} -> ${b(s.rss.last)} (min ${b(s.rss.min)}, max ${b(s.rss.max)})`];
  for (const a of s.arenas) rows.push(`  ${arenaLabel(a).padEnd(16)} ${b(a.first).padStart(10)} -> ${b(a.last).padStart(10)}  (max ${b(a.max)}, ${formatSignedBytes(a.last - a.first)})`);
  return `${rows.join('\n')}\n`;
}
