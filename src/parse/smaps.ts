import type { Vma } from '../types.js';
import { HeapgapError, excerpt } from '../errors.js';

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][-psS]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;
// Fields that are not sizes but appear in smaps on some kernels.
const OTHER_FIELD = /^(VmFlags|THPeligible|ProtectionKey|Locked_Hugetlb)\b:?/;
const KEPT = { Rss: 'rss', Pss: 'pss', Anonymous: 'anonymous', Swap: 'swap' } as const;

/**
 * Parses /proc/PID/smaps (or maps, or the smaps of a capture). Linear, one pass, and field lines are
 * read without a regex: a 60,000-VMA smaps is 40 MB and sits inside every inspect's wall time.
 */
export function parseSmaps(text: string | Buffer, source = 'smaps'): Vma[] {
  const vmas: Vma[] = [];
  let current: Vma | null = null;
  let lineNo = 0;
  let pos = 0;
  // A Buffer is read line by line: the whole text never has to exist as one 40 MB string.
  const line = typeof text === 'string' ? (a: number, b: number) => text.slice(a, b) : (a: number, b: number) => text.toString('latin1', a, b);
  const newline = typeof text === 'string' ? (from: number) => text.indexOf('\n', from) : (from: number) => text.indexOf(10, from);
  while (pos < text.length) {
    let next = newline(pos);
    if (next === -1) next = text.length;
    const entry = line(pos, next);
    pos = next + 1;
    lineNo++;
    if (entry === '') continue;
    const kb = sizeField(entry);
    if (kb !== null) {
      if (!current) throw bad(source, lineNo, 'a VMA header before its fields', entry);
      const key = KEPT[kb.key as keyof typeof KEPT];
      if (key) current[key] = kb.bytes;
      continue;
    }
    const header = HEADER.exec(entry);
    if (header) {
      current = newVma(header);
      if (current.end < current.start) throw bad(source, lineNo, 'start <= end', entry);
      vmas.push(current);
      continue;
    }
    if (OTHER_FIELD.test(entry) && current) continue;
    throw bad(source, lineNo, '`Key: N kB` or a VMA header `start-end perms offset dev inode path`', entry);
  }
  return vmas;
}

/** `Key:   123 kB` -> { key, bytes }, or null when the line is not one. */
function sizeField(line: string): { key: string; bytes: number } | null {
  const colon = line.indexOf(':');
  if (colon <= 0 || !line.endsWith(' kB')) return null;
  const key = line.slice(0, colon);
  if (!/^[A-Za-z_]+$/.test(key)) return null;
  const digits = line.slice(colon + 1, -3).trim();
  if (!/^\d{1,15}$/.test(digits)) return null;
  return { key, bytes: Number(digits) * 1024 };
}

function newVma(m: RegExpExecArray): Vma {
  const start = BigInt(`0x${m[1]}`);
  const end = BigInt(`0x${m[2]}`);
  return {
    start,
    end,
    perms: m[3]!,
    offset: BigInt(`0x${m[4]}`),
    dev: m[5]!,
    inode: Number(m[6]),
    pathname: (m[7] ?? '').trim(),
    size: Number(end - start),
    rss: 0,
    pss: 0,
    anonymous: 0,
    swap: 0,
  };
}

function bad(source: string, lineNo: number, expected: string, got: string): HeapgapError {
  return new HeapgapError('BAD_INPUT', `${source} line ${lineNo}: expected ${expected}, got ${excerpt(got)}`);
}
