/**
 * MallocExtension_GetStats text -> figures. The "MALLOC:" block prints exact byte counts taken
 * under one ExtractStats (one consistent picture), e.g.
 *   MALLOC:      131114808 (  125.0 MiB) Bytes in use by application
 *   MALLOC: +    100892672 (   96.2 MiB) Bytes in page heap freelist
 *   MALLOC:           4526              Spans in use
 */
export interface TcmallocStatsText {
  inUse: number | null;
  pageheapFree: number | null;
  centralCacheFree: number | null;
  transferCacheFree: number | null;
  threadCacheFree: number | null;
  metadata: number | null;
  actualMemoryUsed: number | null;
  releasedToOs: number | null;
  virtualAddressSpace: number | null;
  spans: number | null;
  threadHeaps: number | null;
  pageSize: number | null;
}

const LABELS: [keyof TcmallocStatsText, RegExp][] = [
  ['inUse', /Bytes in use by application/],
  ['pageheapFree', /Bytes in page heap freelist/],
  ['centralCacheFree', /Bytes in central cache freelist/],
  ['transferCacheFree', /Bytes in transfer cache freelist/],
  ['threadCacheFree', /Bytes in thread cache freelists/],
  ['metadata', /Bytes in malloc metadata/],
  ['actualMemoryUsed', /Actual memory used/],
  ['releasedToOs', /Bytes released to OS/],
  ['virtualAddressSpace', /Virtual address space used/],
  ['spans', /Spans in use/],
  ['threadHeaps', /Thread heaps in use/],
  ['pageSize', /Tcmalloc page size/],
];

export function parseTcmallocStats(text: string): TcmallocStatsText {
  const out = Object.fromEntries(LABELS.map(([k]) => [k, null])) as unknown as Record<keyof TcmallocStatsText, number | null>;
  for (const line of text.split('\n')) {
    const m = /^MALLOC:\s*[+=]?\s*(\d+)\s/.exec(line);
    if (!m) continue;
    const label = LABELS.find(([, re]) => re.test(line));
    if (label && out[label[0]] === null) out[label[0]] = Number(m[1]);
  }
  return out;
}
