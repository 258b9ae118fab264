import type { Vma } from '../types.js';
import { HeapgapError, excerpt } from '../errors.js';

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][-psS]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;
// Fields that are not sizes but appear in smaps on some kernels.
const OTHER_FIELD = /^(VmFlags|THPeligible|ProtectionKey|Locked_Hugetlb)\b:?/;
// Private_Clean and Private_Dirty both add to privateRss (what the kernel gets back at exit).
const KEPT = {
  Rss: 'rss', Pss: 'pss', Anonymous: 'anonymous', Swap: 'swap',
  Private_Clean: 'privateRss', Private_Dirty: 'privateRss', LazyFree: 'lazyFree', AnonHugePages: 'anonHugePages',
} as const;

/** smaps text: a string, a buffer, or the buffers it was read in (see readProcChunks). */
export type SmapsInput = string | Buffer | readonly Buffer[];

/**
 * Parses /proc/PID/smaps (or maps, or the smaps of a capture). Linear, one pass, one anchored regex
 * per field line: a 60,000-VMA smaps is 43 MB and sits inside every inspect's wall time.
 */
export function parseSmaps(input: SmapsInput, source = 'smaps'): Vma[] {
  const parser = new SmapsParser(source);
  for (const piece of typeof input === 'string' || Buffer.isBuffer(input) ? [input] : input) parser.feed(piece);
  return parser.end();
}

/**
 * The same parser fed buffer by buffer, as a file is read: nothing holds the whole text, so the
 * peak is the VMAs plus one buffer. A buffer may end in the middle of a line.
 */
export class SmapsParser {
  private readonly vmas: Vma[] = [];
  private current: Vma | null = null;
  private lineNo = 0;
  private carry = '';
  constructor(private readonly source = 'smaps') {}

  /** Takes the bytes of a buffer now: the caller may reuse it afterwards. */
  feed(piece: Buffer | string): void {
    // One decode per buffer, then string slices: decoding line by line was a third slower.
    const text = typeof piece === 'string' ? piece : piece.toString('latin1');
    let pos = 0;
    for (;;) {
      const next = text.indexOf('\n', pos);
      if (next === -1) break;
      const piece = text.slice(pos, next);
      this.line(this.carry === '' ? piece : this.carry + piece);
      this.carry = '';
      pos = next + 1;
    }
    if (pos < text.length) this.carry += text.slice(pos);
  }

  end(): Vma[] {
    if (this.carry !== '') this.line(this.carry);
    this.carry = '';
    return this.vmas;
  }

  private line(entry: string): void {
    this.lineNo++;
    if (entry === '') return;
    const kb = sizeField(entry);
    if (kb !== null) {
      if (!this.current) throw bad(this.source, this.lineNo, 'a VMA header before its fields', entry);
      const key = KEPT[kb.key as keyof typeof KEPT];
      if (key) this.current[key] += kb.bytes;
      return;
    }
    const header = HEADER.exec(entry);
    if (header) {
      this.current = newVma(header);
      if (this.current.end < this.current.start) throw bad(this.source, this.lineNo, 'start <= end', entry);
      this.vmas.push(this.current);
      return;
    }
    if (OTHER_FIELD.test(entry) && this.current) return;
    throw bad(this.source, this.lineNo, '`Key: N kB` or a VMA header `start-end perms offset dev inode path`', entry);
  }
}

const SIZE_FIELD = /^([A-Za-z_]+):[ \t]*(\d{1,15}) kB$/;

/** `Key:   123 kB` -> { key, bytes }, or null when the line is not one. One regex: the fastest way found. */
function sizeField(line: string): { key: string; bytes: number } | null {
  const m = SIZE_FIELD.exec(line);
  return m ? { key: m[1]!, bytes: Number(m[2]) * 1024 } : null;
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
    privateRss: 0,
    lazyFree: 0,
    anonHugePages: 0,
  };
}

function bad(source: string, lineNo: number, expected: string, got: string): HeapgapError {
  return new HeapgapError('BAD_INPUT', `${source} line ${lineNo}: expected ${expected}, got ${excerpt(got)}`);
}
