/**
 * mimalloc's process-wide statistics block (_mi_stats_main, not exported), found in the library's
 * .data/.bss by the committed figures mi_process_info had just returned (stop.py), and decoded
 * only where the match is unique and every counter heapgap reads is self-consistent. Then the
 * figures are exact instead of rounded.
 *
 * 2.0/2.1 layout: mi_stats_t starts { segments, pages, reserved, committed, ... }, each a
 * mi_stat_count_t { int64 allocated, freed, peak, current }; stop.py matched {peak, current} of
 * `committed`. In a release build only the OS-level counters are kept (segments, reserved,
 * committed, reset, threads); the others are partial and are not read.
 */
export interface StatsBlockCandidate {
  /** Address of bytes[0]. */
  address: string;
  /** Offset in bytes of the matched {peak, current}. */
  match: number;
  bytes: string;
}

export interface StatCount {
  allocated: number;
  freed: number;
  peak: number;
  current: number;
}

export interface StatsBlock {
  address: string;
  segments: StatCount;
  reserved: StatCount;
  committed: StatCount;
  reset: StatCount;
  threads: StatCount;
}

const COUNT = 32;
// Offsets from the start of mi_stats_t (2.0.x): segments 0, pages 1, reserved 2, committed 3, reset 4,
// page_committed 5, segments_abandoned 6, pages_abandoned 7, threads 8.
const INDEX = { segments: 0, reserved: 2, committed: 3, reset: 4, threads: 8 } as const;

function count(buf: Buffer, at: number): StatCount | null {
  if (at < 0 || at + COUNT > buf.length) return null;
  const v = [0, 8, 16, 24].map((o) => buf.readBigInt64LE(at + o));
  if (v.some((x) => x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER))) return null;
  const [allocated, freed, peak, current] = v.map(Number) as [number, number, number, number];
  return { allocated, freed, peak, current };
}

const consistent = (c: StatCount, positive: boolean) =>
  c.allocated - c.freed === c.current && c.current >= (positive ? 1 : 0) && c.peak >= c.current && c.freed >= 0;

export function decodeStatsBlock(candidates: StatsBlockCandidate[], committed: { current: number; peak: number }): StatsBlock | null {
  const found: StatsBlock[] = [];
  for (const c of candidates) {
    const buf = Buffer.from(c.bytes, 'hex');
    const base = c.match - 16 - INDEX.committed * COUNT;
    const read = Object.fromEntries(Object.entries(INDEX).map(([k, i]) => [k, count(buf, base + i * COUNT)])) as Record<keyof typeof INDEX, StatCount | null>;
    const { segments, reserved, committed: com, reset, threads } = read;
    if (!segments || !reserved || !com || !reset || !threads) continue;
    if (com.current !== committed.current || com.peak !== committed.peak) continue;
    if (!consistent(com, true) || !consistent(reserved, true) || !consistent(segments, true) || !consistent(reset, false) || !consistent(threads, false)) continue;
    found.push({ address: `0x${(BigInt(c.address) + BigInt(base)).toString(16)}`, segments, reserved, committed: com, reset, threads });
  }
  return found.length === 1 ? found[0]! : null;
}
