import { describe, expect, it } from 'vitest';
import {
  formatBytes, formatMaybeBytes, formatMs, formatPercent, formatSignedBytes, fraction, printable,
} from '../../src/report/format-bytes.js';

describe('formatBytes', () => {
  it('uses powers of 1024 with at most three significant figures', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(9.75 * 1024)).toBe('9.75 KiB');
    expect(formatBytes(38 * 1024 * 1024 + 56 * 1024)).toBe('38.1 MiB');
    expect(formatBytes(426938368)).toBe('407 MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.50 GiB');
  });

  it('does not print 1024 of a unit when rounding reaches the next one', () => {
    expect(formatBytes(1024 * 1024 - 20)).toBe('1.00 MiB');
  });

  it('keeps the sign of negative figures', () => {
    expect(formatBytes(-3 * 1024 * 1024)).toBe('-3.00 MiB');
    expect(formatSignedBytes(12 * 1024 * 1024)).toBe('+12.0 MiB');
    expect(formatSignedBytes(-512)).toBe('-512 B');
    expect(formatSignedBytes(0)).toBe('0 B');
  });

  it('says n/a for an unknown figure', () => {
    expect(formatMaybeBytes(null)).toBe('n/a');
    expect(formatMaybeBytes(2048)).toBe('2.00 KiB');
  });
});

describe('formatPercent and fraction', () => {
  it('formats shares and never prints NaN or Infinity', () => {
    expect(formatPercent(171308032, 426938368)).toBe('40.1%');
    expect(formatPercent(0, 100)).toBe('0%');
    expect(formatPercent(1, 100000)).toBe('<0.1%');
    expect(formatPercent(100, 100)).toBe('100%');
    expect(formatPercent(5, 0)).toBe('n/a');
  });

  it('clamps drawing fractions to [0, 1]', () => {
    expect(fraction(1, 4)).toBe(0.25);
    expect(fraction(5, 4)).toBe(1);
    expect(fraction(-1, 4)).toBe(0);
    expect(fraction(1, 0)).toBe(0);
  });
});

describe('formatMs', () => {
  it('switches from ms to s at one second', () => {
    expect(formatMs(184)).toBe('184 ms');
    expect(formatMs(1520)).toBe('1.52 s');
    expect(formatMs(48210)).toBe('48.2 s');
    expect(formatMs(null)).toBe('n/a');
  });
});

describe('printable', () => {
  it('shows control characters instead of passing them through', () => {
    expect(printable('"a\nb"')).toBe('"a\\nb"');
    expect(printable('x\u001b[31my\tz\r')).toBe('x\\x1b[31my\\tz\\r');
    expect(printable('a\u2028b')).toBe('a\\u2028b');
    expect(printable('api-server')).toBe('api-server');
  });
});
