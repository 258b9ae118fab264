// Shared by the benchmark scripts: the summary each table row prints.

/** n, median, min and max of the finite numbers in xs, rounded to `digits` decimals (nulls when none). */
export function summary(xs, digits = 3) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, median: null, min: null, max: null };
  const round = (x) => Math.round(x * 10 ** digits) / 10 ** digits;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { n: v.length, median: round(median), min: round(v[0]), max: round(v[v.length - 1]) };
}
