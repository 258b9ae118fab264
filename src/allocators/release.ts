/**
 * What a release call (stop.py's release()) said, as trim/2 reports it: the allocator's prediction
 * at the moment of the call and, where Rss cannot be joined to an arena by address (jemalloc), each
 * arena's own resident count before and after. The measured release is smaps' business (trim).
 */
import type { Allocator as AllocatorName } from '../types.js';
import { num, record } from './common.js';

export interface ReleaseFigures {
  allocator: AllocatorName;
  call: string;
  returned: number | null;
  /** What the allocator held as returnable right before the call, by its own count; null when it keeps no such count. */
  predictedBytes: number | null;
  /** Its own figures right before and after (jemalloc stats.*, tcmalloc properties, mimalloc process info). */
  before: Record<string, number | null>;
  after: Record<string, number | null>;
  /** jemalloc: per arena, its resident count before and after (not smaps: its extents cannot be told apart by address). */
  perArena: { index: number; rssBefore: number | null; rssAfter: number | null; releasedBytes: number | null; predictedBytes: number | null }[] | null;
  /** The thread the call ran in (mimalloc collects only that thread's heap). */
  thread: number | null;
}

const numbers = (v: unknown, what: string) => Object.fromEntries(Object.entries(record(v, what)).map(([k]) => [k, num(record(v, what), k)]));

export function releaseFigures(allocator: AllocatorName, raw: unknown): ReleaseFigures {
  const r = record(raw, `${allocator} release result`);
  const before = numbers(r.before ?? {}, 'before');
  const after = numbers(r.after ?? {}, 'after');
  const base = { allocator, call: typeof r.call === 'string' ? r.call : '?', returned: num(r, 'returned'), before, after, thread: num(r, 'thread') };
  if (allocator === 'jemalloc') {
    const page = num(r, 'page') ?? 4096;
    const dirty = (b: Record<string, number | null>, d: string, m: string) => (b[d] ?? 0) * page + (b[m] ?? 0) * page;
    const ab = record(r.arenasBefore ?? {}, 'arenasBefore');
    const aa = record(r.arenasAfter ?? {}, 'arenasAfter');
    const perArena = Object.keys(ab).map((k) => {
      const b = numbers(ab[k], `arena ${k}`);
      const a = aa[k] ? numbers(aa[k], `arena ${k}`) : {};
      const rssBefore = b.resident ?? null;
      const rssAfter = a.resident ?? null;
      return { index: Number(k), rssBefore, rssAfter, releasedBytes: rssBefore !== null && rssAfter !== null ? rssBefore - rssAfter : null, predictedBytes: dirty(b, 'pdirty', 'pmuzzy') };
    });
    return { ...base, predictedBytes: dirty(before, 'stats.arenas.4096.pdirty', 'stats.arenas.4096.pmuzzy'), perArena };
  }
  if (allocator === 'tcmalloc') return { ...base, predictedBytes: before['tcmalloc.pageheap_free_bytes'] ?? null, perArena: null };
  return { ...base, predictedBytes: null, perArena: null };
}
