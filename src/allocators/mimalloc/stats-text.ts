/**
 * mi_stats_print_out's text -> counters. mimalloc prints amounts rounded to a tenth of their unit
 * (2.0: "  reserved:  320.0 MiB  320.0 MiB      0      320.0 MiB"), so each figure carries the
 * width of its rounding: the true value lies in [value, value + precision).
 */
export interface PrintedAmount {
  value: number;
  precision: number;
}

export interface PrintedStat {
  peak: PrintedAmount | null;
  total: PrintedAmount | null;
  freed: PrintedAmount | null;
  current: PrintedAmount | null;
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, K: 1000, M: 1000 ** 2, G: 1000 ** 3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
const AMOUNT = /(-?\d+)(?:\.(\d))?(?:\s(KiB|MiB|GiB|Ki|Mi|Gi|K|M|G|B)\b)?/g;

function amount(whole: string, tenth: string | undefined, unit: string | undefined): PrintedAmount {
  const scale = unit ? UNITS[unit]! : 1;
  const v = Number(`${whole}.${tenth ?? '0'}`);
  return { value: Math.round(v * scale), precision: tenth === undefined ? 1 : Math.round(scale / 10) };
}

/** Rows such as reserved, committed, reset, touched, segments, pages, threads; by label. */
export function parseMimallocStats(text: string): Record<string, PrintedStat> {
  const out: Record<string, PrintedStat> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(-?[a-z][a-z ]*?):\s+(.*)$/.exec(line);
    if (!m || m[1] === 'heap stats' || m[1] === 'process' || m[1] === 'elapsed' || m[1] === 'numa nodes' || m[1] === 'searches') continue;
    const amounts = [...m[2]!.matchAll(AMOUNT)].map((a) => amount(a[1]!, a[2], a[3]));
    // "-abandoned" appears twice (segments, pages): keep both apart by the row before.
    const label = out[m[1]!] ? `${m[1]}#2` : m[1]!;
    out[label] = amounts.length >= 4
      ? { peak: amounts[0]!, total: amounts[1]!, freed: amounts[2]!, current: amounts[3]! }
      : { peak: null, total: amounts[0] ?? null, freed: null, current: null };
  }
  return out;
}
