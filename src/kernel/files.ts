import type { Vma } from '../types.js';

/** One mapped file: its Rss, and how much of that only this process maps (private) vs shares. */
export interface FileRow {
  path: string;
  rss: number;
  privateBytes: number;
  sharedBytes: number;
  /** Private pages the process wrote (copy-on-write of a private mapping: anonymous, not the file). */
  anonBytes: number;
  size: number;
  vmas: number;
}

/**
 * File-backed memory per file, largest Rss first, the way the "where is every byte" seed walks it:
 * a library's pages shared with other processes cost this process little (Pss), private ones are
 * what goes when it exits. Rows past `limit` are summed into one `(other files)` row.
 */
export function fileRows(vmas: readonly Vma[], isFile: (v: Vma) => boolean, limit = 15): FileRow[] {
  const by = new Map<string, FileRow>();
  for (const v of vmas) {
    if (!isFile(v)) continue;
    const path = v.pathname || `(inode ${v.inode})`;
    const row = by.get(path) ?? { path, rss: 0, privateBytes: 0, sharedBytes: 0, anonBytes: 0, size: 0, vmas: 0 };
    row.rss += v.rss;
    row.privateBytes += v.privateRss;
    row.sharedBytes += Math.max(0, v.rss - v.privateRss);
    row.anonBytes += v.anonymous;
    row.size += v.size;
    row.vmas++;
    by.set(path, row);
  }
  const rows = [...by.values()].sort((a, b) => b.rss - a.rss || (a.path < b.path ? -1 : 1));
  if (rows.length <= limit) return rows;
  const rest = rows.slice(limit).reduce((o, r) => ({ ...o, rss: o.rss + r.rss, privateBytes: o.privateBytes + r.privateBytes, sharedBytes: o.sharedBytes + r.sharedBytes, anonBytes: o.anonBytes + r.anonBytes, size: o.size + r.size, vmas: o.vmas + r.vmas }),
    { path: `(${rows.length - limit} other files)`, rss: 0, privateBytes: 0, sharedBytes: 0, anonBytes: 0, size: 0, vmas: 0 });
  return [...rows.slice(0, limit), rest];
}
