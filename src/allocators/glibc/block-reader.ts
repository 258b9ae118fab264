/** What the heap walk reads the target through (ProcMemory; a Buffer in unit tests). */
export interface MemorySource {
  /** Reads `length` bytes at `addr` into `buf`: how many were read, 0 on error. */
  readInto(addr: number, buf: Buffer, length: number): number;
  /** One byte per page from `firstPage` on, 1 when resident; null when pagemap is unreadable. */
  presentPages(firstPage: number, pages: number): Uint8Array | null;
}

export const PAGE = 4096;
const BLOCK = 4 << 20;

/**
 * Sequential reads of one heap, one buffer reused: a chunk header is served from the block in hand,
 * or the block is refilled from the header's page on, over resident pages only. A non-resident page
 * is never read unless a header sits in it.
 *
 * How much a refill reads follows the walk: twice the last block (up to 4 MiB) when that block
 * served more than the header it was read for, or when the walk skipped less past its end than it
 * read (chunks of a page or two: malloc(4096)'s 4112 bytes); one page when it served one header and
 * the next lay further off than the block was long (large chunks: their bodies are not read). An
 * idle process's 9 heaps of 32 KiB blocks cost 31 ms of reads after detach when every resident page
 * was read (7.1 MB; 98 KB now), most of inspect's work there.
 */
export class BlockReader {
  /**
   * Never more than the heap: a 4 MiB buffer for each of an idle process's small heaps was most of
   * inspect's garbage (9 arenas, 36 MiB of buffers for 1.3 MiB read each, and the collections it set off).
   */
  readonly buf: Buffer;
  /** The same bytes as 32-bit words: headers are 16-byte aligned, and indexing beats readUInt32LE. */
  readonly words: Uint32Array;
  readBytes = 0;
  private from = 0;
  private to = 0;
  /** pages the next refill may read, and the headers the block in hand has served */
  private window = 1;
  private served = 0;

  constructor(private readonly src: MemorySource, private readonly present: Uint8Array, private readonly start: number, private readonly end: number) {
    const size = Math.max(PAGE, Math.min(BLOCK, Math.ceil((end - start) / PAGE) * PAGE));
    this.buf = Buffer.allocUnsafe(size);
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, size / 4);
  }

  /** Offset in `buf` of the 16 bytes at `addr` (prev_size, size), or -1 when they cannot be read. */
  at(addr: number): number {
    if (addr >= this.from && addr + 16 <= this.to) {
      this.served++;
      return addr - this.from;
    }
    return this.refill(addr);
  }

  private refill(addr: number): number {
    if (addr < this.start || addr + 16 > this.end) return -1;
    const page = Math.floor((addr - this.start) / PAGE);
    const skipped = addr - this.to;
    const grow = this.served > 1 || (this.to > this.from && skipped >= 0 && skipped < this.to - this.from);
    const max = Math.min(this.buf.length / PAGE, grow ? this.window * 2 : 1);
    let pages = 1;
    while (pages < max && this.start + (page + pages) * PAGE < this.end && this.present[page + pages] === 1) pages++;
    this.window = pages;
    this.served = 1;
    const from = this.start + page * PAGE;
    const got = this.src.readInto(from, this.buf, pages * PAGE);
    this.readBytes += got;
    this.from = from;
    this.to = from + got;
    return addr + 16 <= this.to ? addr - from : -1;
  }
}
