/** Byte and ratio wording shared by findings and progress lines (reporters use report/format-bytes). */
export const MIB = 1024 * 1024;
/** Bytes in MiB with one decimal; below 1 MiB in KiB, so 128 KiB does not read as "0.1 MiB". */
export const mib = (n: number): string => (Math.abs(n) < MIB ? `${(n / 1024).toFixed(1)} KiB` : `${(n / MIB).toFixed(1)} MiB`);
export const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
export const hex = (n: bigint): string => `0x${n.toString(16)}`;
export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
