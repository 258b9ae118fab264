/**
 * Number and text formatting shared by the human-facing reporters (text, markdown, html).
 * Machine formats (json, openmetrics) print raw integers and never go through here.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * IEC units, three significant figures at most: `0 B`, `512 B`, `9.75 KiB`, `38.1 MiB`, `408 MiB`.
 * Powers of 1024 because smaps, malloc_info and page sizes all count in them.
 */
export function formatBytes(bytes: number | null): string {
  // null: a figure the allocator does not count (contract v2 arenas of other allocators).
  if (bytes === null) return '-';
  if (!Number.isFinite(bytes)) return String(bytes);
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${sign}${Math.round(value)} B`;
  // Rounding 1023.96 to "1024 KiB" would read as a different unit than intended.
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  let shown = value.toFixed(digits);
  if (Number(shown) >= 1024 && unit < UNITS.length - 1) {
    shown = (value / 1024).toFixed(2);
    unit++;
  }
  return `${sign}${shown} ${UNITS[unit]}`;
}

/** A change: `+12.0 MiB`, `-3.50 KiB`, `0 B`. */
export function formatSignedBytes(bytes: number): string {
  return bytes > 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

/** Formats like formatBytes, or `n/a` when the figure is unknown. */
export function formatMaybeBytes(bytes: number | null): string {
  return bytes === null ? 'n/a' : formatBytes(bytes);
}

/**
 * `part` as a share of `whole`: `40.1%`, `<0.1%`, `100%`. An empty whole gives `n/a`
 * rather than NaN% or Infinity%.
 */
export function formatPercent(part: number, whole: number): string {
  if (!(whole > 0) || !Number.isFinite(part)) return 'n/a';
  const pct = (100 * part) / whole;
  if (pct === 0) return '0%';
  if (pct > 0 && pct < 0.1) return '<0.1%';
  if (pct >= 99.95 && pct <= 100) return '100%';
  return `${pct.toFixed(1)}%`;
}

/** Share of `whole` in [0, 1] for drawing; 0 for an empty whole or a negative part. */
export function fraction(part: number, whole: number): number {
  if (!(whole > 0) || !(part > 0)) return 0;
  return Math.min(1, part / whole);
}

/** `184 ms`, `1.52 s`, `48.2 s`, `n/a`. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'n/a';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return `${s.toFixed(s >= 100 ? 0 : s >= 10 ? 1 : 2)} s`;
}

/**
 * Makes control characters visible (`a\nb`, `\x1b[31m`) before text from the target
 * (comm, environment values) reaches a terminal, a table cell or a heading: a comm is chosen
 * by the traced program and can hold anything prctl(PR_SET_NAME) accepts.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}
