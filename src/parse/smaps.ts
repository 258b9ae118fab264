import type { Vma } from '../types.js';
import { HeapgapError, excerpt } from '../errors.js';

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][-psS]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;
const SIZE_FIELD = /^([A-Za-z_]+):\s+(\d+) kB$/;
// Fields that are not sizes but appear in smaps on some kernels.
const OTHER_FIELD = /^(VmFlags|THPeligible|ProtectionKey|Locked_Hugetlb)\b:?/;

/** Parses /proc/PID/smaps (or smaps of a capture). Linear in the text; sizes in bytes. */
export function parseSmaps(text: string, source = 'smaps'): Vma[] {
  const vmas: Vma[] = [];
  let current: Vma | null = null;
  let lineNo = 0;
  let pos = 0;
  while (pos < text.length) {
    let next = text.indexOf('\n', pos);
    if (next === -1) next = text.length;
    const line = text.slice(pos, next);
    pos = next + 1;
    lineNo++;
    if (line === '') continue;
    const size = SIZE_FIELD.exec(line);
    if (size) {
      if (!current) throw bad(source, lineNo, 'a VMA header before its fields', line);
      current.fields[size[1]!] = Number(size[2]) * 1024;
      continue;
    }
    const header = HEADER.exec(line);
    if (header) {
      current = newVma(header);
      if (current.end < current.start) throw bad(source, lineNo, 'start <= end', line);
      vmas.push(current);
      continue;
    }
    if (OTHER_FIELD.test(line) && current) continue;
    throw bad(source, lineNo, '`Key: N kB` or a VMA header `start-end perms offset dev inode path`', line);
  }
  for (const vma of vmas) finish(vma);
  return vmas;
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
    fields: {},
  };
}

function finish(vma: Vma): void {
  vma.rss = vma.fields.Rss ?? 0;
  vma.pss = vma.fields.Pss ?? 0;
  vma.anonymous = vma.fields.Anonymous ?? 0;
  vma.swap = vma.fields.Swap ?? 0;
}

function bad(source: string, lineNo: number, expected: string, got: string): HeapgapError {
  return new HeapgapError('BAD_INPUT', `${source} line ${lineNo}: expected ${expected}, got ${excerpt(got)}`);
}
