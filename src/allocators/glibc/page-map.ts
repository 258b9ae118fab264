import { PAGE } from './block-reader.js';
import type { WalkedHeap } from './heap-walk.js';
import type { PageMap } from './types.js';

const MAX_RUNS = 2048;
const hex = (n: number) => `0x${n.toString(16)}`;

/** Page classes of one walked heap, as figures and as runs (coarsened until they fit MAX_RUNS). */
export function pageMap(h: WalkedHeap): PageMap {
  const pages = h.live.length;
  let live = 0;
  let resident = 0;
  const cls = new Uint8Array(pages); // 0 live, 1 free resident, 2 free released
  for (let i = 0; i < pages; i++) {
    if (h.live[i]) {
      live++;
    } else if (h.present[i]) {
      resident++;
      cls[i] = 1;
    } else {
      cls[i] = 2;
    }
  }
  // Count first, spell once: on a heap of millions of pages the exact runs can be 10^5 strings.
  let unit = 1;
  while (encode(cls, unit, false).count > MAX_RUNS) unit *= 2;
  const runs = encode(cls, unit, true);
  return {
    start: hex(h.span.start),
    end: hex(h.span.end),
    pageSize: PAGE,
    pages,
    livePages: live,
    freeResidentPages: resident,
    freeReleasedPages: pages - live - resident,
    topStart: h.topStart === null ? null : hex(h.topStart),
    unitPages: unit,
    runs: runs.text,
  };
}

const LETTERS = 'LRF';

function encode(cls: Uint8Array, unit: number, spell: boolean): { text: string; count: number } {
  const parts: string[] = [];
  let count = 0;
  let current = -1;
  let length = 0;
  for (let u = 0; u * unit < cls.length; u++) {
    const c = unit === 1 ? cls[u]! : majority(cls, u * unit, Math.min(cls.length, (u + 1) * unit));
    if (c === current) {
      length++;
      continue;
    }
    if (length > 0) {
      count++;
      if (spell) parts.push(`${LETTERS[current]}${length}`);
    }
    current = c;
    length = 1;
  }
  if (length > 0) {
    count++;
    if (spell) parts.push(`${LETTERS[current]}${length}`);
  }
  return { text: parts.join(''), count };
}

function majority(cls: Uint8Array, from: number, to: number): number {
  const n = [0, 0, 0];
  for (let i = from; i < to; i++) n[cls[i]!]!++;
  return n[0]! >= n[1]! && n[0]! >= n[2]! ? 0 : n[1]! >= n[2]! ? 1 : 2;
}

/** Parses `runs` back: [class, units][] (for the HTML drawing and tests). */
export function parseRuns(runs: string): ['L' | 'R' | 'F', number][] {
  return [...runs.matchAll(/([LRF])(\d+)/g)].map((m) => [m[1] as 'L' | 'R' | 'F', Number(m[2])]);
}
