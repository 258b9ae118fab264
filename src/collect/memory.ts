import { closeSync, openSync, readSync } from 'node:fs';

const PAGE = 4096n;

/**
 * Reads the target's memory and page residency through /proc (the same permission as ptrace attach).
 * Synchronous: the callers make tens of thousands of 16-byte reads in a row, and awaiting each one
 * cost five times the read itself.
 */
export class ProcMemory {
  private constructor(private readonly mem: number | null, private readonly pagemap: number | null) {}

  static async open(pid: number): Promise<ProcMemory> {
    return new ProcMemory(tryOpen(`/proc/${pid}/mem`), tryOpen(`/proc/${pid}/pagemap`));
  }

  get canRead(): boolean {
    return this.mem !== null;
  }

  get canCountPages(): boolean {
    return this.pagemap !== null;
  }

  async u64pair(addr: bigint): Promise<[bigint, bigint] | null> {
    const buf = await this.read(addr, 16);
    return buf ? [buf.readBigUInt64LE(0), buf.readBigUInt64LE(8)] : null;
  }

  async read(addr: bigint, length: number): Promise<Buffer | null> {
    if (this.mem === null) return null;
    const buf = Buffer.alloc(length);
    try {
      return readSync(this.mem, buf, 0, length, Number(addr)) === length ? buf : null;
    } catch {
      return null;
    }
  }

  /** Reads `length` bytes at `addr` into `buf` (from offset 0): how many were read, 0 on error. */
  readInto(addr: number, buf: Buffer, length: number): number {
    if (this.mem === null) return 0;
    try {
      return readSync(this.mem, buf, 0, length, addr);
    } catch {
      return 0;
    }
  }

  /** One byte per page from `firstPage` on: 1 when the page is present (resident), else 0. */
  presentPages(firstPage: number, pages: number): Uint8Array | null {
    if (this.pagemap === null) return null;
    const out = new Uint8Array(pages);
    const step = 65536;
    const buf = Buffer.allocUnsafe(Math.min(step, pages) * 8); // a small heap's few pages need no 512 KiB
    for (let i = 0; i < pages; i += step) {
      const n = Math.min(step, pages - i);
      let got = 0;
      try {
        got = readSync(this.pagemap, buf, 0, n * 8, (firstPage + i) * 8);
      } catch {
        return null;
      }
      for (let k = 0; k * 8 + 7 < got; k++) out[i + k] = buf[k * 8 + 7]! >> 7;
    }
    return out;
  }

  /** Resident bytes in [start, end), from the present bit of each page's pagemap entry. */
  async residentBytes(start: bigint, end: bigint): Promise<number | null> {
    if (this.pagemap === null) return null;
    let resident = 0;
    const last = (end + PAGE - 1n) / PAGE;
    const chunkPages = 65536n;
    for (let page = start / PAGE; page < last; page += chunkPages) {
      const pages = Number(last - page < chunkPages ? last - page : chunkPages);
      const buf = Buffer.alloc(pages * 8);
      let got = 0;
      try {
        got = readSync(this.pagemap, buf, 0, buf.length, Number(page * 8n));
      } catch {
        return null;
      }
      for (let o = 7; o < got; o += 8) if ((buf[o]! & 0x80) !== 0) resident++;
    }
    return resident * Number(PAGE);
  }

  async close(): Promise<void> {
    if (this.mem !== null) closeSync(this.mem);
    if (this.pagemap !== null) closeSync(this.pagemap);
  }
}

function tryOpen(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}
