import type { StateOffsets } from './measure.js';

/**
 * main_arena has no symbol in a stripped libc. In a process without thread arenas its `next`
 * points to itself; its top chunk lies inside [heap] and its system_mem fits in it. Unlike a match
 * on malloc_info's system_mem this holds after a trim moved the figures. Pure: libc's writable
 * segment (mapped at `base`) in, the address out, or null when not exactly one place fits.
 */
export function locateMainArena(buf: Buffer, base: bigint, o: StateOffsets, heap: { start: bigint; end: bigint }): bigint | null {
  const found: bigint[] = [];
  for (let at = 0; at + o.systemMem + 16 <= buf.length; at += 8) {
    const self = base + BigInt(at);
    if (buf.readBigUInt64LE(at + o.next) !== self) continue;
    const top = buf.readBigUInt64LE(at + o.top);
    const systemMem = buf.readBigUInt64LE(at + o.systemMem);
    const maxSystemMem = buf.readBigUInt64LE(at + o.systemMem + 8);
    if (top >= heap.start && top < heap.end && systemMem > 0n && systemMem <= heap.end - heap.start && systemMem <= maxSystemMem) found.push(self);
  }
  return found.length === 1 ? found[0]! : null;
}
