/** A live chunk that keeps free memory below it from being trimmed. */
export interface PinningChunk {
  /** The pointer malloc returned for it (chunk + 16). */
  address: number;
  /** Chunk size, header included. */
  size: number;
  /** Free bytes (in bins) below it in the arena. */
  freeBelowBytes: number;
}

const PAGE = 4096;
const CHUNK_KEEP = 48;

/**
 * A free chunk counts when it holds a whole page past its first 48 bytes: memory malloc_trim could
 * hand back, were it not for the live chunks above. Smaller holes pin nothing worth naming.
 */
export function holdsPage(p: number, size: number): boolean {
  return p + size - Math.ceil((p + CHUNK_KEEP) / PAGE) * PAGE >= PAGE;
}

const KEEP = 16;

/**
 * Fed the chunks of an arena in address order (oldest heap first), it keeps the live chunks above
 * the highest free chunk that holds a whole page: those stand between free memory and the top.
 */
export class PinningTracker {
  private freeSoFar = 0;
  private freeBelow = 0;
  private stretchStart = -1;
  private ring: PinningChunk[] = [];
  private count = 0;
  private bytes = 0;

  free(p: number, size: number): void {
    this.freeSoFar += size;
    if (!holdsPage(p, size)) return;
    this.stretchStart = p + size;
    this.freeBelow = this.freeSoFar;
    this.ring = [];
    this.count = 0;
    this.bytes = 0;
  }

  live(p: number, size: number): void {
    if (this.stretchStart < 0) return;
    // A ring of the last KEEP: a stretch can hold millions of live chunks.
    this.ring[this.count % KEEP] = { address: p + 16, size, freeBelowBytes: this.freeSoFar };
    this.count++;
    this.bytes += size;
  }

  /** Highest first, at most 16 of them; `count`/`bytes` cover the whole stretch. */
  result(): { chunks: PinningChunk[]; count: number; bytes: number; freeBelow: number; stretchStart: number } {
    const n = Math.min(this.count, KEEP);
    const chunks = Array.from({ length: n }, (_, i) => this.ring[(this.count - 1 - i) % KEEP]!);
    return { chunks, count: this.count, bytes: this.bytes, freeBelow: this.count > 0 ? this.freeBelow : 0, stretchStart: this.stretchStart };
  }
}
