import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

const PAGE = 4096n;

/** Reads the target's memory and page residency through /proc (same permission as ptrace attach). */
export class ProcMemory {
  private constructor(private readonly mem: FileHandle | null, private readonly pagemap: FileHandle | null) {}

  static async open(pid: number): Promise<ProcMemory> {
    const mem = await open(`/proc/${pid}/mem`, 'r').catch(() => null);
    const pagemap = await open(`/proc/${pid}/pagemap`, 'r').catch(() => null);
    return new ProcMemory(mem, pagemap);
  }

  get canRead(): boolean {
    return this.mem !== null;
  }

  get canCountPages(): boolean {
    return this.pagemap !== null;
  }

  async u64pair(addr: bigint): Promise<[bigint, bigint] | null> {
    if (!this.mem) return null;
    const buf = Buffer.alloc(16);
    try {
      const { bytesRead } = await this.mem.read(buf, 0, 16, Number(addr));
      return bytesRead === 16 ? [buf.readBigUInt64LE(0), buf.readBigUInt64LE(8)] : null;
    } catch {
      return null;
    }
  }

  async read(addr: bigint, length: number): Promise<Buffer | null> {
    if (!this.mem) return null;
    const buf = Buffer.alloc(length);
    try {
      const { bytesRead } = await this.mem.read(buf, 0, length, Number(addr));
      return bytesRead === length ? buf : null;
    } catch {
      return null;
    }
  }

  /** Resident bytes in [start, end), from the present bit of each page's pagemap entry. */
  async residentBytes(start: bigint, end: bigint): Promise<number | null> {
    if (!this.pagemap) return null;
    let resident = 0;
    const chunkPages = 65536n;
    for (let page = start / PAGE; page < (end + PAGE - 1n) / PAGE; page += chunkPages) {
      const pages = Number(((end + PAGE - 1n) / PAGE - page < chunkPages ? (end + PAGE - 1n) / PAGE - page : chunkPages));
      const buf = Buffer.alloc(pages * 8);
      const { bytesRead } = await this.pagemap.read(buf, 0, buf.length, Number(page * 8n));
      for (let o = 0; o + 8 <= bytesRead; o += 8) if ((buf[o + 7]! & 0x80) !== 0) resident++;
    }
    return resident * Number(PAGE);
  }

  async close(): Promise<void> {
    await this.mem?.close();
    await this.pagemap?.close();
  }
}
