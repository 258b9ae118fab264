import type { ProcMemory } from '../memory.js';

const PAGE = 4096n;

/**
 * Reads of the target's memory that never touch a page that is not resident. A read through
 * /proc/PID/mem faults the page in *in the target*: an untouched anonymous page gets the zero page
 * and a page table, a swapped one is swapped in. top probes addresses that need not be heap at all
 * (every HEAP_MAX-aligned address of a large anonymous mapping) and follows pointers a running
 * process may be changing, so each page is first checked in pagemap (which faults nothing).
 */
export class ResidentMemory {
  private readonly present = new Map<bigint, boolean>();
  constructor(readonly memory: ProcMemory) {}

  /** `length` bytes at `addr`, or null when a page of it is not resident or the read fails. */
  async read(addr: bigint, length: number): Promise<Buffer | null> {
    for (let page = addr / PAGE; page * PAGE < addr + BigInt(length); page++) {
      if (!(await this.isPresent(page))) return null;
    }
    return this.memory.read(addr, length);
  }

  /** [start, end) with the pages that are not resident left as zeros (never read). */
  async readSparse(start: bigint, end: bigint): Promise<Buffer> {
    const out = Buffer.alloc(Number(end - start));
    for (let at = start; at < end;) {
      const next = (at / PAGE + 1n) * PAGE < end ? (at / PAGE + 1n) * PAGE : end;
      if (await this.isPresent(at / PAGE)) (await this.memory.read(at, Number(next - at)))?.copy(out, Number(at - start));
      at = next;
    }
    return out;
  }

  residentBytes(start: bigint, end: bigint): Promise<number | null> {
    return this.memory.residentBytes(start, end);
  }

  private async isPresent(page: bigint): Promise<boolean> {
    let known = this.present.get(page);
    if (known === undefined) {
      known = (await this.memory.residentBytes(page * PAGE, (page + 1n) * PAGE)) === Number(PAGE);
      this.present.set(page, known);
    }
    return known;
  }
}
