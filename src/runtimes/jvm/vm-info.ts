/**
 * The ranges `jcmd PID VM.info` prints: the JVM's own statement of where its heap, class space and
 * code heaps are. Only read when the user asks (--jvm-jcmd): jcmd makes the JVM do work.
 */
export interface VmInfoRanges {
  heap: [bigint, bigint] | null;
  classSpace: [bigint, bigint] | null;
  /** [low, high boundary) of each code heap. */
  codeHeaps: [bigint, bigint][];
}

const MB = 1024n * 1024n;

export function parseVmInfo(text: string): VmInfoRanges {
  const heap = /^Heap address: (0x[0-9a-f]+), size: (\d+) MB/m.exec(text);
  const cls = /^Compressed class space mapped at: (0x[0-9a-f]+)-(0x[0-9a-f]+)/m.exec(text);
  const codeHeaps: [bigint, bigint][] = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(/^\s*bounds \[(0x[0-9a-f]+), 0x[0-9a-f]+, (0x[0-9a-f]+)\]/gm)) {
    if (seen.has(m[1]!)) continue; // VM.info may print the code cache twice
    seen.add(m[1]!);
    codeHeaps.push([BigInt(m[1]!), BigInt(m[2]!)]);
  }
  return {
    heap: heap ? [BigInt(heap[1]!), BigInt(heap[1]!) + BigInt(heap[2]!) * MB] : null,
    classSpace: cls ? [BigInt(cls[1]!), BigInt(cls[2]!)] : null,
    codeHeaps,
  };
}

/** The lines parseVmInfo reads, so a capture keeps those and not 80 KB of VM.info. */
export function vmInfoExcerpt(text: string): string {
  return text.split('\n').filter((l) => /^Heap address:|^Compressed class space mapped at:|^\s*bounds \[|^CodeHeap /.test(l)).join('\n');
}
